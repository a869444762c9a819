package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
)

// kind is the per-item value a step chain holds.
type kind int

const (
	kMat   kind = iota + 1 // [T, H] per item (rank-3 output), before pooling
	kVec                   // a vector of numbers
	kFloat                 // one number
	kInt                   // one integer
	kStr                   // one string
	kInts                  // a list of integers
	kStrs                  // a list of strings
)

func (k kind) String() string {
	return [...]string{"", "a [tokens, hidden] matrix", "a vector", "a number", "an integer", "a string", "a list of integers", "a list of strings"}[k]
}

// stepOps maps each step to the kinds it accepts and what it makes of them.
var stepOps = map[string]map[kind]kind{
	"softmax":      {kVec: kVec},
	"sigmoid":      {kVec: kVec},
	"l2_normalize": {kVec: kVec},
	"truncate":     {kVec: kVec},
	"clamp":        {kVec: kVec, kFloat: kFloat},
	"pick":         {kVec: kFloat},
	"max":          {kVec: kFloat},
	"item":         {kVec: kFloat},
	"argmax":       {kVec: kInt},
	"top_k":        {kVec: kInts},
	"label":        {kInt: kStr, kInts: kStrs},
	"to_int":       {kStr: kInt, kInt: kInt},
	"to_float":     {kStr: kFloat, kInt: kFloat, kFloat: kFloat},
	"mean_pool":    {kMat: kVec},
	"cls_pool":     {kMat: kVec},
}

// steps decodes an output's steps and checks that each accepts what the
// one before makes; it returns the steps and the final kind.
func (p *parser) steps(n *yaml.Node, field string) ([]Step, kind) {
	cur := kVec
	var out []Step
	for i, it := range p.list(n, "steps") {
		name, arg := p.oneOf(it, "step")
		if name == "" {
			continue
		}
		ops, ok := stepOps[name]
		if !ok {
			p.failf(it, "unknown step %q (expected one of %s)", name, joinKeys(stepOps))
			continue
		}
		if i == 0 && (name == "mean_pool" || name == "cls_pool") {
			cur = kMat
		}
		next, ok := ops[cur]
		if !ok {
			p.failf(it, "step %s of output %q: expected %s before it, got %s", name, field, kindsOf(ops), cur)
			continue
		}
		s := Step{Op: name, line: it.Line}
		p.stepArg(&s, arg, it)
		out = append(out, s)
		cur = next
	}
	return out, cur
}

func joinKeys[V any](m map[string]V) string {
	ks := sortedKeys(m)
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += k
	}
	return s
}

func kindsOf(ops map[kind]kind) string {
	var ks []kind
	for k := range ops {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += " or "
		}
		s += k.String()
	}
	return s
}

// stepArg decodes a step's argument, which some steps need and others
// must not have.
func (p *parser) stepArg(s *Step, arg, at *yaml.Node) {
	need := func(what string) bool {
		if arg == nil {
			p.failf(at, "step %s: expected an argument (%s: %s)", s.Op, s.Op, what)
			return false
		}
		return true
	}
	switch s.Op {
	case "pick":
		if !need("a label name or class index") {
			return
		}
		if arg.Kind == yaml.ScalarNode && arg.Tag == "!!int" {
			s.Index = p.integer(arg, "pick index", 0, 1<<20)
			return
		}
		s.label = p.str(arg, "pick label")
		s.Index = -1
		if p.labelsNode == nil {
			p.failf(arg, "pick %q: expected labels or labels_file in the mapping (before outputs) to look the label up", s.label)
			return
		}
		s.Index = slices.Index(p.m.Labels, s.label)
		if s.Index < 0 && len(p.m.Labels) > 0 {
			p.failf(arg, "pick %q: expected one of the labels %q", s.label, p.m.Labels)
		}
	case "top_k":
		if need("k") {
			s.K = p.integer(arg, "top_k", 1, 1<<20)
		}
	case "clamp":
		if !need("[min, max]") {
			return
		}
		b := p.numbers(arg, "clamp")
		if len(b) != 2 || b[0] > b[1] {
			p.failf(arg, "clamp: expected [min, max] with min <= max")
			return
		}
		s.Lo, s.Hi = float32(b[0]), float32(b[1])
	case "truncate":
		if !need("a width, or {field: name, default: width}") {
			return
		}
		if arg.Kind == yaml.ScalarNode {
			s.N = p.integer(arg, "truncate", 1, 1<<24)
			return
		}
		p.fieldArg(s, arg, func(v *yaml.Node) json.RawMessage {
			return json.RawMessage(strconv.Itoa(p.integer(v, "truncate default", 1, 1<<24)))
		})
	case "l2_normalize":
		if arg == nil {
			return
		}
		p.fieldArg(s, arg, func(v *yaml.Node) json.RawMessage {
			return json.RawMessage(strconv.FormatBool(p.boolean(v, "l2_normalize default")))
		})
	case "mean_pool":
		if need("the attention-mask input tensor") {
			s.Mask = p.str(arg, "mean_pool mask")
		}
	default:
		if arg != nil {
			p.failf(at, "step %s takes no argument", s.Op)
		}
	}
}

// fieldArg reads {field: name, default: value}.
func (p *parser) fieldArg(s *Step, n *yaml.Node, def func(*yaml.Node) json.RawMessage) {
	p.fields(n, "step "+s.Op, map[string]func(*yaml.Node){
		"field":   func(v *yaml.Node) { s.Field = p.str(v, s.Op+" field") },
		"default": func(v *yaml.Node) { s.Default = def(v) },
	})
	if n.Kind == yaml.MappingNode && (s.Field == "" || s.Default == nil) {
		p.failf(n, "step %s: expected keys field and default", s.Op)
	}
}

// resolveLabels checks pick labels against labels read after the outputs.
func (m *Mapping) check() error {
	for _, o := range m.Outputs {
		for _, s := range o.Steps {
			if s.Op == "label" && len(m.Labels) == 0 {
				return &FileError{File: m.File, Line: s.line, Msg: "step label: expected labels or labels_file in the mapping"}
			}
		}
	}
	names := map[string]bool{}
	for _, in := range m.Inputs {
		for _, t := range in.tensorNames() {
			if names[t] {
				return &FileError{File: m.File, Msg: fmt.Sprintf("model input %q is fed by two inputs", t)}
			}
			names[t] = true
		}
	}
	for _, o := range m.Outputs {
		for _, s := range o.Steps {
			if s.Op == "mean_pool" && !names[s.Mask] {
				return &FileError{File: m.File, Line: s.line, Msg: fmt.Sprintf("mean_pool %q: expected the name of a model input the mapping feeds (a text input's attention_mask)", s.Mask)}
			}
		}
	}
	return nil
}
