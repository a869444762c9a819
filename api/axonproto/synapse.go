package axonproto

import (
	"bytes"
	"crypto/sha3"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// DefaultTimeout is the synapse's default timeout in seconds, as the SDK's
// Synapse.timeout.
const DefaultTimeout = 12.0

// EmptyBodyHash is the body hash of a synapse without required_hash_fields:
// SHA3-256 of the empty string.
const EmptyBodyHash = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"

// Synapse is the JSON body of a synapse: an ordered set of top-level fields,
// kept as raw JSON, so that fields the axon does not know are echoed as they
// came. The base fields (name, timeout, sizes, dendrite, axon,
// computed_body_hash) are always written first, in the SDK's order.
type Synapse struct {
	keys []string
	vals map[string]json.RawMessage
}

// baseFields are the SDK Synapse's own fields, in declaration order.
var baseFields = []string{"name", "timeout", "total_size", "header_size", "dendrite", "axon", "computed_body_hash"}

// ParseSynapse decodes a JSON object body. A repeated key keeps its last
// value, as Python's json does.
func ParseSynapse(body []byte) (*Synapse, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("synapse body: want a JSON object")
	}
	s := &Synapse{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		s.Set(key, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("synapse body: data after the JSON object")
	}
	return s, nil
}

// NewSynapse returns an empty synapse body.
func NewSynapse() *Synapse { return &Synapse{vals: map[string]json.RawMessage{}} }

// Field returns a field's raw JSON; ok is false when the field is absent.
func (s *Synapse) Field(name string) (raw json.RawMessage, ok bool) {
	raw, ok = s.vals[name]
	return raw, ok
}

// Keys returns the field names in order.
func (s *Synapse) Keys() []string { return append([]string(nil), s.keys...) }

// Set sets a field to raw JSON, keeping its place if it exists.
func (s *Synapse) Set(name string, raw json.RawMessage) {
	if _, ok := s.vals[name]; !ok {
		s.keys = append(s.keys, name)
	}
	s.vals[name] = raw
}

// SetValue sets a field to the JSON encoding of v.
func (s *Synapse) SetValue(name string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("synapse field %s: %w", name, err)
	}
	s.Set(name, raw)
	return nil
}

// String returns a string field; ok is false when it is absent, null or
// not a string.
func (s *Synapse) String(name string) (v string, ok bool) {
	raw, present := s.vals[name]
	if !present || json.Unmarshal(raw, &v) != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", false
	}
	return v, true
}

// Terminal decodes the dendrite or axon object; a missing or null one is a
// zero TerminalInfo.
func (s *Synapse) Terminal(name string) (TerminalInfo, error) {
	var t TerminalInfo
	raw, ok := s.vals[name]
	if !ok {
		return t, nil
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("synapse field %s: %w", name, err)
	}
	return t, nil
}

// Float returns a number field; ok is false when it is absent or null.
func (s *Synapse) Float(name string) (v float64, ok bool, err error) {
	raw, present := s.vals[name]
	if !present || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return 0, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, fmt.Errorf("synapse field %s: want a number: %w", name, err)
	}
	return v, true, nil
}

// AppendJSON appends the synapse as compact JSON: the base fields first in
// the SDK's order (missing ones get the SDK's defaults: name, timeout 12.0,
// sizes 0, empty terminal info, computed_body_hash ""), then the other
// fields in the order they were set.
func (s *Synapse) AppendJSON(dst []byte, name string) []byte {
	dst = append(dst, '{')
	first := true
	field := func(k string, v []byte) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendQuote(dst, k) // keys are ASCII identifiers
		dst = append(dst, ':')
		dst = append(dst, v...)
	}
	defaults := map[string]string{
		"timeout": "12.0", "total_size": "0", "header_size": "0", "computed_body_hash": `""`,
		"dendrite": emptyTerminal, "axon": emptyTerminal,
	}
	for _, k := range baseFields {
		if k == "name" {
			q, _ := json.Marshal(name)
			field(k, q)
			continue
		}
		v, ok := s.vals[k]
		if !ok || ((k == "dendrite" || k == "axon") && bytes.Equal(bytes.TrimSpace(v), []byte("null"))) {
			v = []byte(defaults[k])
		}
		field(k, v)
	}
	for _, k := range s.keys {
		if isBase(k) {
			continue
		}
		q, _ := json.Marshal(k)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, q...)
		dst = append(dst, ':')
		dst = append(dst, s.vals[k]...)
	}
	return append(dst, '}')
}

const emptyTerminal = `{"status_code":null,"status_message":null,"process_time":null,"ip":null,"port":null,"version":null,"nonce":null,"uuid":null,"hotkey":null,"signature":null}`

func isBase(k string) bool {
	for _, b := range baseFields {
		if k == b {
			return true
		}
	}
	return false
}

// BodyHash is the SDK's Synapse.body_hash over the named fields (the
// class's required_hash_fields, in order): the SHA3-256 hex of the
// concatenated SHA3-256 hexes of Python's str() of each field's value. A
// missing field counts as None. With no fields it is EmptyBodyHash.
func BodyHash(s *Synapse, fields []string) (string, error) {
	var cat []byte
	for _, f := range fields {
		raw, ok := s.vals[f]
		if !ok {
			raw = json.RawMessage("null")
		}
		str, err := PyStr(raw)
		if err != nil {
			return "", fmt.Errorf("hash field %s: %w", f, err)
		}
		h := sha3.Sum256([]byte(str))
		cat = hex.AppendEncode(cat, h[:])
	}
	h := sha3.Sum256(cat)
	return hex.EncodeToString(h[:]), nil
}

// Field is a required field of a synapse class with the JSON of its empty
// value (`""`, `[]`, `0`, `{}`), sent base64-encoded as its
// bt_header_input_obj_* placeholder.
type Field struct {
	Name  string
	Empty string
}

// InputObjHeaders passes the bt_header_input_obj_* placeholder of each
// field to add, as both ends send them.
func InputObjHeaders(fields []Field, add func(k, v string)) {
	for _, f := range fields {
		add(PrefixInputObj+f.Name, base64.StdEncoding.EncodeToString([]byte(f.Empty)))
	}
}
