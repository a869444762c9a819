package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taominer/taominer/kernels/imageproc"
	"github.com/taominer/taominer/models/tensor"
)

// Version is the mapping format version this package reads.
const Version = 1

// DefaultBatchSize is how many items of a list field go into one model run
// when the mapping does not say.
const DefaultBatchSize = 16

// Mapping is one decoded mapping file: the synapses a model answers and how.
type Mapping struct {
	// File is the mapping file; Model the model it belongs to.
	File, Model string
	Routes      []Route
	// Epistula lists the HTTP routes the mapping answers for Epistula
	// callers on the axon port (key epistula).
	Epistula []EpistulaRoute
	// Labels are the class names by index (labels or labels_file).
	Labels []string
	// BatchSize is the number of list items per model run.
	BatchSize int
	Inputs    []Input
	Outputs   []Output
	// Fixed lists the fields set in every answer, in file order: big inputs
	// blanked to their class default, or constants.
	Fixed []Fixed
	// list is true when the inputs are list fields (one item per row).
	list bool
	// deps are the files the mapping read besides itself (fingerprinted
	// for reloads).
	deps []string
}

// Route is one synapse class the mapping answers.
type Route struct {
	// Name is the Python class name, the axon route.
	Name string
	// HashFields is the class's required_hash_fields, in order.
	HashFields []string
	// Required lists the class's fields without a default.
	Required []string
}

// EpistulaRoute is one HTTP route (method and path) answered with the
// mapping for admitted Epistula callers: the JSON body holds the fields the
// inputs read, and the answer is a JSON object of the output fields (and
// set fields).
type EpistulaRoute struct {
	Method, Path string
}

// String is "METHOD /path".
func (r EpistulaRoute) String() string { return r.Method + " " + r.Path }

// Fixed is an answer field set to a fixed JSON value.
type Fixed struct {
	Field string
	Value json.RawMessage
}

// Input turns one synapse field into model input tensors. Exactly one of
// Image, Text and Tensor is set.
type Input struct {
	Field string
	// List: the field is a JSON list whose items are the rows of the
	// model's batch axis.
	List   bool
	Image  *ImageSpec
	Text   *TextSpec
	Tensor *TensorSpec
	text   Tokenizer
}

// ImageSpec is the image pre-processing: base64 → JPEG/PNG → RGB → resize
// (→ center crop) → (x·Scale − Mean[c]) / Std[c] → NCHW float32.
type ImageSpec struct {
	Tensor string
	// Exactly one size form: Width×Height; ShortestEdge (Hugging Face,
	// usually with a center crop); or Height with MaxWidth (keep the aspect
	// ratio at Height, width ceil(Height·w/h) capped at MaxWidth, padded on
	// the right to MaxWidth with PadValue after normalisation: PaddleOCR).
	Width, Height, ShortestEdge, MaxWidth int
	CropWidth, CropHeight                 int
	Filter                                imageproc.Filter
	Scale                                 float32
	Mean, Std                             []float32
	// BGR feeds the channels in B, G, R order (models trained on OpenCV
	// images).
	BGR       bool
	PadValue  float32
	MaxPixels int
}

// TextSpec is the text pre-processing: a tokenizer turns the texts into
// token ids, attention mask and token type ids.
type TextSpec struct {
	// Vocab is the tokenizer's vocabulary file (absolute after loading).
	Vocab     string
	LowerCase bool
	MaxLength int
	// PadToMax pads every row to MaxLength instead of to the longest row
	// of the run.
	PadToMax bool
	// Tensor names; TokenTypeIDs is empty when the model has none
	// (token_type_ids: null).
	InputIDs, AttentionMask, TokenTypeIDs string
}

// TensorSpec reads a number, a list or a nested list (or, with Base64, the
// base64 of raw little-endian bytes) as a tensor of one item.
type TensorSpec struct {
	Name     string
	DataType tensor.DataType
	// Shape is the item's shape without the batch axis; one dimension may
	// be -1 (from the element count).
	Shape  []int64
	Base64 bool
}

// Output turns one model output into one answer field.
type Output struct {
	Field, Tensor string
	Steps         []Step
	// Fallback is the JSON sent when the miner cannot answer; nil when
	// the mapping gives none.
	Fallback json.RawMessage
	result   kind
}

// Step is one post-processing step; Op says which and the other fields hold
// its argument.
type Step struct {
	Op string
	// Index is pick's class index (resolved from its label).
	Index int
	label string
	// K is top_k's k; N truncate's width (0: from Field).
	K, N int
	// Lo, Hi are clamp's bounds.
	Lo, Hi float32
	// Field names the synapse field that gives truncate's width or
	// switches l2_normalize; Default is used when it is absent or null.
	Field   string
	Default json.RawMessage
	// Mask is mean_pool's attention-mask input tensor.
	Mask string
	line int
}

// Options are what loading a mapping needs from outside.
type Options struct {
	// Tokenizer loads the tokenizer of a text input; nil makes text inputs
	// an error ("no tokenizer available").
	Tokenizer func(vocabPath string, lowerCase bool) (Tokenizer, error)
}

// Tokenizer turns texts into padded token rows, as kernels/wordpiece does.
type Tokenizer interface {
	// EncodeBatch lays the texts' ids, type ids and mask out row-major as
	// [len(texts), seqLen], padded to the longest, each row cut to maxLen.
	EncodeBatch(texts []string, maxLen int) (ids, typeIDs, mask []int64, seqLen int)
	// PadID is the id of the padding token.
	PadID() int64
}

// LoadFile reads and decodes the mapping file at path, for model.
func LoadFile(path, model string, opt Options) (*Mapping, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	return Parse(path, model, text, opt)
}

// Parse decodes mapping text; file names it in errors and anchors the
// relative paths it names (labels_file, preprocessor_config, vocab).
func Parse(file, model string, text []byte, opt Options) (*Mapping, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(text, &root); err != nil {
		// yaml.v3 says "yaml: line N: what"; keep N as the line.
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
			_, msg, _ = strings.Cut(msg, ": ")
		}
		return nil, &FileError{File: file, Line: line, Msg: "not YAML: " + msg}
	}
	d := &dec{file: file}
	if len(root.Content) == 0 {
		return nil, &FileError{File: file, Msg: "empty mapping file (expected version: 1, synapses, inputs, outputs)"}
	}
	m := &Mapping{File: file, Model: model, BatchSize: DefaultBatchSize}
	p := &parser{dec: d, m: m, dir: filepath.Dir(file), opt: opt}
	p.top(root.Content[0])
	if err := d.err(); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

type parser struct {
	*dec
	m          *Mapping
	dir        string
	opt        Options
	labelsNode *yaml.Node
}

func (p *parser) path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.dir, rel)
}

func (p *parser) top(n *yaml.Node) {
	var version, synapses, epistula, inputs, outputs *yaml.Node
	p.fields(n, "the mapping", map[string]func(*yaml.Node){
		"version":     func(v *yaml.Node) { version = v },
		"synapses":    func(v *yaml.Node) { synapses = v },
		"epistula":    func(v *yaml.Node) { epistula = v },
		"labels":      func(v *yaml.Node) { p.labelsNode = v; p.labels(v) },
		"labels_file": func(v *yaml.Node) { p.labelsNode = v; p.labelsFile(v) },
		"batch_size":  func(v *yaml.Node) { p.m.BatchSize = p.integer(v, "batch_size", 1, 1<<16) },
		"inputs":      func(v *yaml.Node) { inputs = v },
		"outputs":     func(v *yaml.Node) { outputs = v },
		"set":         func(v *yaml.Node) { p.fixed(v) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	switch {
	case version == nil:
		p.failf(n, "missing key \"version\" (expected version: %d)", Version)
	case version.Kind != yaml.ScalarNode || version.Value != strconv.Itoa(Version):
		p.failf(version, "version: expected %d, got %s", Version, kindName(version))
	}
	if synapses == nil && epistula == nil {
		p.failf(n, "missing key \"synapses\" (expected a list of {name, required_hash_fields, required}) or \"epistula\" (a list of {method, path})")
	}
	if synapses != nil {
		p.routes(synapses)
	}
	if epistula != nil {
		p.epistulaRoutes(epistula)
	}
	if inputs == nil {
		p.failf(n, "missing key \"inputs\" (expected a list of {field, image|text|tensor})")
	} else {
		p.inputs(inputs)
	}
	if outputs == nil {
		p.failf(n, "missing key \"outputs\" (expected a list of {field, tensor, steps, fallback})")
	} else {
		p.outputs(outputs)
	}
}

func (p *parser) routes(n *yaml.Node) {
	items := p.list(n, "synapses")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.failf(n, "synapses: expected at least one synapse")
	}
	seen := map[string]bool{}
	for _, it := range items {
		var r Route
		p.fields(it, "a synapse", map[string]func(*yaml.Node){
			"name":                 func(v *yaml.Node) { r.Name = p.str(v, "synapse name") },
			"required_hash_fields": func(v *yaml.Node) { r.HashFields = p.strs(v, "required_hash_fields") },
			"required":             func(v *yaml.Node) { r.Required = p.strs(v, "required") },
		})
		if it.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case r.Name == "":
			p.failf(it, "synapse: missing key \"name\" (the Python class name)")
		case !validRoute(r.Name):
			p.failf(it, "synapse name %q: expected a Python class name (letters, digits, _)", r.Name)
		case r.Name == "Synapse" || r.Name == "Infer":
			p.failf(it, "synapse name %q: reserved for the axon's own synapse", r.Name)
		case seen[r.Name]:
			p.failf(it, "synapse name %q listed twice", r.Name)
		}
		seen[r.Name] = true
		p.m.Routes = append(p.m.Routes, r)
	}
}

func validRoute(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func (p *parser) labels(n *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		p.m.Labels = p.strs(n, "labels")
	case yaml.MappingNode:
		m := map[int]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			idx := p.integer(n.Content[i], "labels index", 0, 1<<20)
			m[idx] = p.str(n.Content[i+1], "label")
		}
		p.m.Labels = denseLabels(m, func(msg string) { p.failf(n, "labels: %s", msg) })
	default:
		p.failf(n, "labels: expected a list of names or a mapping index: name, got %s", kindName(n))
	}
}

// labelsFile reads id2label from a Hugging Face config.json.
func (p *parser) labelsFile(n *yaml.Node) {
	rel := p.str(n, "labels_file")
	if rel == "" {
		return
	}
	path := p.path(rel)
	p.m.deps = append(p.m.deps, path)
	raw, err := os.ReadFile(path)
	if err != nil {
		p.failf(n, "labels_file: %v", err)
		return
	}
	var cfg struct {
		ID2Label map[string]string `json:"id2label"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil || len(cfg.ID2Label) == 0 {
		p.failf(n, "labels_file %s: expected a JSON object with id2label {\"0\": name, ...} (a Hugging Face config.json)", rel)
		return
	}
	m := map[int]string{}
	for k, v := range cfg.ID2Label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 {
			p.failf(n, "labels_file %s: id2label key %q is not a class index", rel, k)
			return
		}
		m[i] = v
	}
	p.m.Labels = denseLabels(m, func(msg string) { p.failf(n, "labels_file %s: %s", rel, msg) })
}

func denseLabels(m map[int]string, fail func(string)) []string {
	out := make([]string, len(m))
	for i, v := range m {
		if i >= len(m) {
			fail(fmt.Sprintf("class indices must be 0..%d without gaps, got %d", len(m)-1, i))
			return nil
		}
		out[i] = v
	}
	return out
}

func (p *parser) fixed(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.failf(n, "set: expected a mapping field: value (sent in every answer), got %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f := p.str(n.Content[i], "set field")
		p.m.Fixed = append(p.m.Fixed, Fixed{Field: f, Value: p.jsonOf(n.Content[i+1], "set "+f)})
	}
}

func (p *parser) inputs(n *yaml.Node) {
	items := p.list(n, "inputs")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.failf(n, "inputs: expected at least one input")
	}
	lists := 0
	for _, it := range items {
		in := Input{}
		var kinds []string
		p.fields(it, "an input", map[string]func(*yaml.Node){
			"field":  func(v *yaml.Node) { in.Field = p.str(v, "input field") },
			"list":   func(v *yaml.Node) { in.List = p.boolean(v, "list") },
			"image":  func(v *yaml.Node) { kinds = append(kinds, "image"); in.Image = p.image(v) },
			"text":   func(v *yaml.Node) { kinds = append(kinds, "text"); in.Text = p.text(v, &in) },
			"tensor": func(v *yaml.Node) { kinds = append(kinds, "tensor"); in.Tensor = p.tensorSpec(v) },
		})
		if it.Kind != yaml.MappingNode {
			continue
		}
		if in.Field == "" {
			p.failf(it, "input: missing key \"field\" (the synapse field read)")
		}
		if len(kinds) != 1 {
			p.failf(it, "input %q: expected exactly one of image, text, tensor", in.Field)
		}
		if in.List {
			lists++
		}
		p.m.Inputs = append(p.m.Inputs, in)
	}
	if lists > 0 && lists != len(p.m.Inputs) {
		p.failf(n, "inputs: either every input is a list field (rows of one batch) or none is")
	}
	p.m.list = lists > 0
}

func (p *parser) tensorSpec(n *yaml.Node) *TensorSpec {
	t := &TensorSpec{}
	p.fields(n, "a tensor input", map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { t.Name = p.str(v, "tensor name") },
		"datatype": func(v *yaml.Node) {
			s := p.str(v, "datatype")
			dt, err := tensor.ParseDataType(s)
			if err != nil || !numericType(dt) {
				p.failf(v, "datatype: expected one of BOOL, UINT8, INT8, INT32, INT64, FP32, FP64, got %q", s)
			}
			t.DataType = dt
		},
		"shape": func(v *yaml.Node) {
			free := 0
			for _, d := range p.list(v, "shape") {
				x := p.integer(d, "shape dimension", -1, 1<<30)
				if x == -1 {
					free++
				}
				t.Shape = append(t.Shape, int64(x))
			}
			if free > 1 {
				p.failf(v, "shape: at most one dimension may be -1")
			}
		},
		"base64": func(v *yaml.Node) { t.Base64 = p.boolean(v, "base64") },
	})
	if n.Kind == yaml.MappingNode {
		if t.Name == "" || t.DataType == tensor.Invalid || t.Shape == nil {
			p.failf(n, "tensor input: expected keys name, datatype and shape")
		}
	}
	return t
}

func numericType(dt tensor.DataType) bool {
	switch dt {
	case tensor.Bool, tensor.Uint8, tensor.Int8, tensor.Int32, tensor.Int64, tensor.FP32, tensor.FP64:
		return true
	}
	return false
}

func (p *parser) text(n *yaml.Node, in *Input) *TextSpec {
	t := &TextSpec{MaxLength: 512, InputIDs: "input_ids", AttentionMask: "attention_mask", TokenTypeIDs: "token_type_ids"}
	var vocabNode *yaml.Node
	p.fields(n, "a text input", map[string]func(*yaml.Node){
		"vocab":          func(v *yaml.Node) { vocabNode = v; t.Vocab = p.path(p.str(v, "vocab")) },
		"lower_case":     func(v *yaml.Node) { t.LowerCase = p.boolean(v, "lower_case") },
		"max_length":     func(v *yaml.Node) { t.MaxLength = p.integer(v, "max_length", 2, 1<<16) },
		"pad_to_max":     func(v *yaml.Node) { t.PadToMax = p.boolean(v, "pad_to_max") },
		"input_ids":      func(v *yaml.Node) { t.InputIDs = p.str(v, "input_ids") },
		"attention_mask": func(v *yaml.Node) { t.AttentionMask = p.str(v, "attention_mask") },
		"token_type_ids": func(v *yaml.Node) {
			if v.Tag == "!!null" {
				t.TokenTypeIDs = "" // the model has none
				return
			}
			t.TokenTypeIDs = p.str(v, "token_type_ids")
		},
	})
	if n.Kind != yaml.MappingNode {
		return t
	}
	if vocabNode == nil {
		p.failf(n, "text input: missing key \"vocab\" (the tokenizer's vocab.txt beside the mapping)")
		return t
	}
	p.m.deps = append(p.m.deps, t.Vocab)
	if p.opt.Tokenizer == nil {
		p.failf(vocabNode, "text input: no tokenizer is available in this build")
		return t
	}
	tok, err := p.opt.Tokenizer(t.Vocab, t.LowerCase)
	if err != nil {
		p.failf(vocabNode, "vocab: %v", err)
		return t
	}
	in.text = tok
	return t
}

func (p *parser) outputs(n *yaml.Node) {
	items := p.list(n, "outputs")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.failf(n, "outputs: expected at least one output")
	}
	for _, it := range items {
		o := Output{}
		var steps *yaml.Node
		p.fields(it, "an output", map[string]func(*yaml.Node){
			"field":    func(v *yaml.Node) { o.Field = p.str(v, "output field") },
			"tensor":   func(v *yaml.Node) { o.Tensor = p.str(v, "output tensor") },
			"steps":    func(v *yaml.Node) { steps = v },
			"fallback": func(v *yaml.Node) { o.Fallback = p.jsonOf(v, "fallback") },
		})
		if it.Kind != yaml.MappingNode {
			continue
		}
		if o.Field == "" || o.Tensor == "" {
			p.failf(it, "output: expected keys field (the answer's field) and tensor (the model output)")
		}
		o.result = kVec
		if steps != nil {
			o.Steps, o.result = p.steps(steps, o.Field)
		}
		p.m.Outputs = append(p.m.Outputs, o)
	}
}

// marshalJSON encodes v without HTML escaping.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
