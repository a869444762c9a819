package mapping

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileError is a problem in a mapping file (or a file it names), at a line.
type FileError struct {
	File string
	Line int // 0 when the problem is not at one line
	Msg  string
}

// Error returns "file:line: message".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// dec decodes yaml.v3 nodes strictly, collecting errors with their lines.
type dec struct {
	file string
	errs []error
}

func (d *dec) failf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FileError{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *dec) err() error { return errors.Join(d.errs...) }

// fields walks a mapping node: each key must be one of the handlers' keys
// (else "unknown key ... (expected one of ...)"), at most once.
func (d *dec) fields(n *yaml.Node, what string, h map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.failf(n, "%s: expected a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := h[k.Value]
		if !ok {
			d.failf(k, "unknown key %q in %s (expected one of %s)", k.Value, what, strings.Join(sortedKeys(h), ", "))
			continue
		}
		if seen[k.Value] {
			d.failf(k, "key %q repeated in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		f(v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func (d *dec) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.failf(n, "%s: expected a string, got %s", what, kindName(n))
		return ""
	}
	if n.Value == "" {
		d.failf(n, "%s: expected a non-empty string", what)
	}
	return n.Value
}

func (d *dec) integer(n *yaml.Node, what string, lo, hi int) int {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err == nil && v >= lo && v <= hi {
			return v
		}
	}
	d.failf(n, "%s: expected an integer in [%d, %d], got %s", what, lo, hi, kindName(n))
	return lo
}

func (d *dec) number(n *yaml.Node, what string) float64 {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		v, err := strconv.ParseFloat(n.Value, 64)
		if err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return v
		}
	}
	d.failf(n, "%s: expected a finite number, got %s", what, kindName(n))
	return 0
}

func (d *dec) boolean(n *yaml.Node, what string) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		return n.Value == "true"
	}
	d.failf(n, "%s: expected true or false, got %s", what, kindName(n))
	return false
}

func (d *dec) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		d.failf(n, "%s: expected a list, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

func (d *dec) strs(n *yaml.Node, what string) []string {
	var out []string
	for _, it := range d.list(n, what) {
		out = append(out, d.str(it, what+" item"))
	}
	return out
}

func (d *dec) numbers(n *yaml.Node, what string) []float64 {
	var out []float64
	for _, it := range d.list(n, what) {
		out = append(out, d.number(it, what+" item"))
	}
	return out
}

// oneOf reads a value that is either a bare name ("softmax") or a mapping
// with exactly one key ({pick: Roadwork}); it returns the name and the
// argument node (nil for a bare name).
func (d *dec) oneOf(n *yaml.Node, what string) (string, *yaml.Node) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		return n.Value, nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		return n.Content[0].Value, n.Content[1]
	}
	d.failf(n, "%s: expected a step name or a mapping with one key (name: argument), got %s", what, kindName(n))
	return "", nil
}

// jsonOf converts a YAML value node (a fallback, a blank value) to JSON.
func (d *dec) jsonOf(n *yaml.Node, what string) []byte {
	var v any
	if err := n.Decode(&v); err != nil {
		d.failf(n, "%s: %v", what, err)
		return nil
	}
	b, err := marshalJSON(v)
	if err != nil {
		d.failf(n, "%s: expected a JSON value (null, a number, a string, a list or a mapping with string keys): %v", what, err)
		return nil
	}
	return b
}
