package axonproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

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
		b.WriteString(PyQuote(x))
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

// PyQuote is Python's repr of a str for printable text: single quotes,
// unless the text holds a single quote and no double quote.
func PyQuote(s string) string {
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
