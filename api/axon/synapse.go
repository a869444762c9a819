package axon

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Header names of the Bittensor synapse wire format (spec §1.2, §2.3). They
// are lower case with underscores and must stay so on the wire.
const (
	HeaderName             = "name"
	HeaderTimeout          = "timeout"
	HeaderHeaderSize       = "header_size"
	HeaderTotalSize        = "total_size"
	HeaderComputedBodyHash = "computed_body_hash"
	PrefixAxon             = "bt_header_axon_"
	PrefixDendrite         = "bt_header_dendrite_"
	PrefixInputObj         = "bt_header_input_obj_"
)

// DefaultTimeout is the synapse's default timeout in seconds, as the SDK's
// Synapse.timeout.
const DefaultTimeout = 12.0

// EmptyBodyHash is the body hash of a synapse without required_hash_fields:
// SHA3-256 of the empty string.
const EmptyBodyHash = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"

// TerminalInfo is the SDK's TerminalInfo: what one end of a call says about
// itself. Nil fields are JSON null and are left out of headers. Field order
// is the SDK's, which is also the JSON order.
type TerminalInfo struct {
	StatusCode    *int64   `json:"status_code"`
	StatusMessage *string  `json:"status_message"`
	ProcessTime   *float64 `json:"process_time"`
	IP            *string  `json:"ip"`
	Port          *int64   `json:"port"`
	Version       *int64   `json:"version"`
	Nonce         *int64   `json:"nonce"`
	UUID          *string  `json:"uuid"`
	Hotkey        *string  `json:"hotkey"`
	Signature     *string  `json:"signature"`
}

// Headers passes the terminal's non-nil fields to add as prefix+field
// headers, formatted as Python's str() does.
func (t *TerminalInfo) Headers(prefix string, add func(k, v string)) {
	num := func(k string, v *int64) {
		if v != nil {
			add(prefix+k, strconv.FormatInt(*v, 10))
		}
	}
	str := func(k string, v *string) {
		if v != nil {
			add(prefix+k, *v)
		}
	}
	num("status_code", t.StatusCode)
	str("status_message", t.StatusMessage)
	if t.ProcessTime != nil {
		add(prefix+"process_time", PyFloat(*t.ProcessTime))
	}
	str("ip", t.IP)
	num("port", t.Port)
	num("version", t.Version)
	num("nonce", t.Nonce)
	str("uuid", t.UUID)
	str("hotkey", t.Hotkey)
	str("signature", t.Signature)
}

// ParseTerminalHeaders reads the prefix+field headers (prefix PrefixAxon or
// PrefixDendrite) through get, as the SDK's from_headers does: integers
// must parse as integers and process_time as a float.
func ParseTerminalHeaders(prefix string, get func(string) string) (TerminalInfo, error) {
	var t TerminalInfo
	var errs []error
	num := func(k string) *int64 {
		s := get(prefix + k)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s%s: want an integer, got %q", prefix, k, s))
			return nil
		}
		return &n
	}
	str := func(k string) *string {
		if s := get(prefix + k); s != "" {
			return &s
		}
		return nil
	}
	t.StatusCode = num("status_code")
	t.StatusMessage = str("status_message")
	if s := get(prefix + "process_time"); s != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %sprocess_time: want a number, got %q", prefix, s))
		} else {
			t.ProcessTime = &f
		}
	}
	t.IP = str("ip")
	t.Port = num("port")
	t.Version = num("version")
	t.Nonce = num("nonce")
	t.UUID = str("uuid")
	t.Hotkey = str("hotkey")
	t.Signature = str("signature")
	return t, errors.Join(errs...)
}

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

// PyStr returns Python's str() of the JSON value raw as pydantic would hold
// it: a string is its text, integers are decimal, other numbers use
// Python's float repr, true/false/null are True/False/None, and lists and
// lists are Python reprs (['a', 1, None]). A JSON number written with a
// fraction or exponent is taken as a float, so a float field sent as 1 (not
// 1.0) hashes differently than in Python; objects (dicts, whose key order
// and value types only the Python class knows) are an error. Prefer string
// fields for required_hash_fields.
func PyStr(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b strings.Builder
	if err := pyRepr(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func pyRepr(b *strings.Builder, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			b.WriteString(s)
			return nil
		}
		f, _ := strconv.ParseFloat(s, 64)
		b.WriteString(PyFloat(f))
	case string:
		b.WriteString(pyQuote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := pyRepr(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return errors.New("objects are not supported in hashed fields; use string fields")
	}
	return nil
}

// pyQuote is Python's repr of a str for printable text: single quotes,
// unless the text holds a single quote and no double quote.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// PyFloat formats f as Python's repr(float): the shortest round-trip
// digits, with ".0" on integral values, exponent form below 1e-4 and from
// 1e16, and inf, -inf, nan.
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. 1e-05, 1.5e+16
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
