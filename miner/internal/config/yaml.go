package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"
)

// applyYAML sets the options named in text, a YAML mapping of option keys,
// on struct value dst. Keys are strict: an unknown or repeated key is an
// error. Every error starts with prefix and names the line and key. If
// origin is not nil, it records where each set value came from.
func (set *optionSet) applyYAML(dst reflect.Value, text []byte, prefix string, origin map[*option]string) error {
	root, err := decodeDocument(text)
	if err != nil {
		return fmt.Errorf("%s%w", prefix, err)
	}
	if root == nil {
		return nil // empty file: nothing set
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%sline %d: want a mapping of option keys, got %s", prefix, root.Line, nodeKind(root))
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := fmt.Sprintf("%sline %d", prefix, k.Line)
		o := set.byYAML[k.Value]
		if k.Kind != yaml.ScalarNode || o == nil {
			errs = append(errs, fmt.Errorf("%s: unknown key %q%s", at, k.Value, set.suggest(k.Value)))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			errs = append(errs, fmt.Errorf("%s: key %q repeats line %d", at, k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
		val, err := o.parseNode(v, set.typ.Field(o.field).Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", at, k.Value, err))
			continue
		}
		dst.Field(o.field).Set(val)
		if origin != nil {
			origin[o] = at + ": " + k.Value
		}
	}
	return errors.Join(errs...)
}

// decodeDocument parses text as a single YAML document and returns its root
// node, or nil if text holds no document or only null.
func decodeDocument(text []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errors.New("want a single YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

// suggest returns a hint for an unknown key: the known key closest to it
// (Suggest), e.g. "http_addr" for "http-addr" or "models_dir" for
// "modles_dir".
func (set *optionSet) suggest(key string) string {
	if guess := Suggest(key, slices.Collect(maps.Keys(set.byYAML))); guess != "" {
		return fmt.Sprintf(" (did you mean %q?)", guess)
	}
	return ""
}

// parseNode reads a YAML value node as the option's value of type t. Scalars
// are parsed like flag and environment values, so "250ms" is a duration and
// yes is not a bool; a list also takes a YAML sequence. A null value is
// empty for strings and lists and an error otherwise.
func (o *option) parseNode(n *yaml.Node, t reflect.Type) (reflect.Value, error) {
	n = resolve(n)
	if o.kind == kindList && n.Kind == yaml.SequenceNode {
		items := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode || item.ShortTag() == "!!null" {
				return reflect.Value{}, fmt.Errorf("want a list of strings, got %s item", nodeKind(item))
			}
			items = append(items, item.Value)
		}
		return reflect.ValueOf(items).Convert(t), nil
	}
	if n.Kind != yaml.ScalarNode {
		return reflect.Value{}, fmt.Errorf("want a single value, got %s", nodeKind(n))
	}
	if n.ShortTag() == "!!null" {
		if o.kind != kindString && o.kind != kindList {
			return reflect.Value{}, errors.New("missing value")
		}
		return reflect.Zero(t), nil
	}
	v, err := o.parse(n.Value, t)
	if err != nil {
		return reflect.Value{}, fmt.Errorf("invalid value %q: %w", n.Value, err)
	}
	return v, nil
}

// resolve follows alias nodes to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// nodeKind names a node's kind for error messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "a null"
		}
		return "a scalar"
	}
	return "an alias"
}
