package api

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/taominer/taominer/models/tensor"
)

// maxElements bounds the element count of a shape so that byte sizes cannot
// overflow.
const maxElements = 1 << 53

// tensorState is a tensor object being decoded: an input of a request or an
// output of a response.
type tensorState struct {
	what     string // "input" or "output"
	index    int
	name     string
	dt       tensor.DataType
	shape    []int64
	n        int64 // element count of shape, when hasShape
	params   Parameters
	binSize  int64 // parameters.binary_data_size, when hasBin
	hasBin   bool
	hasShape bool
	hasData  bool // a "data" value was present
	dataAt   int  // offset of a "data" value not parsed yet, or -1
	data     []byte
	strs     [][]byte
	count    int64 // elements decoded
}

// label names the tensor in error messages: input "x", or input 2 before the
// name is known.
func (t *tensorState) label() string {
	if t.name != "" {
		return fmt.Sprintf("%s %q", t.what, t.name)
	}
	return fmt.Sprintf("%s %d", t.what, t.index)
}

// errf returns a 400 error prefixed with the tensor's label.
func (t *tensorState) errf(format string, args ...any) error {
	return BadRequest("%s: %s", t.label(), fmt.Sprintf(format, args...))
}

// tensor returns the decoded tensor.
func (t *tensorState) tensor() tensor.Tensor {
	return tensor.Tensor{Name: t.name, DataType: t.dt, Shape: t.shape, Data: t.data, Strings: t.strs}
}

// parseData decodes a JSON "data" array, flat or nested, straight into t's
// buffers. t.dt must be set. For numeric types it hands runs of numbers to
// the fast path, fastData, and decodes the rest itself.
func (s *scanner) parseData(t *tensorState) error {
	if s.peek() != '[' {
		return t.errf(`"data" must be a JSON array, got %s`, s.kind())
	}
	// Preallocate for the shape's element count, bounded by what the rest
	// of the body can hold (every element takes at least two bytes of JSON,
	// "1,"), so that a lying shape cannot make us allocate. Without a shape
	// yet, start small and let append grow.
	capN := int64(64)
	if t.hasShape {
		capN = min(t.n, int64(len(s.buf)-s.pos)/2+1)
	}
	if t.dt == tensor.Bytes {
		t.strs = make([][]byte, 0, capN)
	} else {
		t.data = make([]byte, 0, capN*int64(t.dt.Size()))
	}
	run := fastRunFor(t.dt)
	if s.slow {
		run = nil
	}
	s.pos++
	depth, state := 1, afterOpen
	noFast := -1 // offset of a token the fast path left to this loop
	for {
		c := s.peek()
		if run != nil && state != afterValue && s.pos != noFast && (c == '-' || c-'0' <= 9) {
			var done bool
			if state, done = s.fastData(t, run, &depth); done {
				return nil
			}
			noFast = s.pos
			continue
		}
		switch c {
		case 0:
			if s.pos >= len(s.buf) {
				return s.syntaxErr(`',' or ']' in "data"`)
			}
		case ',':
			if state != afterValue {
				return s.syntaxErr("a value")
			}
			s.pos++
			state = afterComma
			continue
		case ']':
			if state == afterComma {
				return s.syntaxErr("a value after ','")
			}
			s.pos++
			if depth--; depth == 0 {
				return nil
			}
			state = afterValue
			continue
		case '[':
			if state == afterValue {
				return s.syntaxErr("',' or ']' after array element")
			}
			if depth++; depth > maxDepth {
				return BadRequest("invalid JSON at offset %d: nested deeper than %d levels", s.pos, maxDepth)
			}
			s.pos++
			state = afterOpen
			continue
		}
		if state == afterValue {
			return s.syntaxErr("',' or ']' after array element")
		}
		if err := s.element(t, c); err != nil {
			return err
		}
		t.count++
		state = afterValue
	}
}

// element decodes one element of t's "data" starting with byte c.
func (s *scanner) element(t *tensorState, c byte) error {
	isNum := c == '-' || c >= '0' && c <= '9'
	switch t.dt {
	case tensor.FP32, tensor.FP64, tensor.FP16, tensor.BF16:
		var f float64
		if isNum {
			n, err := s.scanNumber()
			if err != nil {
				return err
			}
			var ok bool
			if f, ok = n.float(t.dt); !ok {
				return t.errf("data element %d: %s is out of range for %s", t.count, n.tok, t.dt)
			}
		} else if f, isNum = s.nonFinite(); !isNum {
			return t.errf(`data element %d: %s takes numbers and the strings "NaN", "Infinity", "-Infinity", got %s`, t.count, t.dt, s.kind())
		}
		switch t.dt {
		case tensor.FP32:
			t.data = binary.LittleEndian.AppendUint32(t.data, math.Float32bits(float32(f)))
		case tensor.FP64:
			t.data = binary.LittleEndian.AppendUint64(t.data, math.Float64bits(f))
		case tensor.FP16:
			t.data = binary.LittleEndian.AppendUint16(t.data, Float64ToFP16(f))
		default:
			t.data = binary.LittleEndian.AppendUint16(t.data, Float64ToBF16(f))
		}
		return nil
	case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64:
		if !isNum {
			return t.errf("data element %d: %s takes integers, got %s", t.count, t.dt, s.kind())
		}
		n, err := s.scanNumber()
		if err != nil {
			return err
		}
		v, err := n.signed(t.dt)
		if err != nil {
			return t.errf("data element %d: %v", t.count, err)
		}
		switch t.dt {
		case tensor.Int8:
			t.data = append(t.data, byte(v))
		case tensor.Int16:
			t.data = binary.LittleEndian.AppendUint16(t.data, uint16(v))
		case tensor.Int32:
			t.data = binary.LittleEndian.AppendUint32(t.data, uint32(v))
		default:
			t.data = binary.LittleEndian.AppendUint64(t.data, uint64(v))
		}
		return nil
	case tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
		if !isNum {
			return t.errf("data element %d: %s takes integers, got %s", t.count, t.dt, s.kind())
		}
		n, err := s.scanNumber()
		if err != nil {
			return err
		}
		v, err := n.unsigned(t.dt)
		if err != nil {
			return t.errf("data element %d: %v", t.count, err)
		}
		switch t.dt {
		case tensor.Uint8:
			t.data = append(t.data, byte(v))
		case tensor.Uint16:
			t.data = binary.LittleEndian.AppendUint16(t.data, uint16(v))
		case tensor.Uint32:
			t.data = binary.LittleEndian.AppendUint32(t.data, uint32(v))
		default:
			t.data = binary.LittleEndian.AppendUint64(t.data, v)
		}
		return nil
	case tensor.Bool:
		v, ok := s.bool()
		if !ok {
			return t.errf("data element %d: BOOL takes true or false, got %s", t.count, s.kind())
		}
		b := byte(0)
		if v {
			b = 1
		}
		t.data = append(t.data, b)
		return nil
	case tensor.Bytes:
		if c != '"' {
			return t.errf("data element %d: BYTES takes strings, got %s", t.count, s.kind())
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		t.strs = append(t.strs, v)
		return nil
	}
	return t.errf("unsupported datatype %s", t.dt)
}

// nonFinite consumes one of the strings "NaN", "Infinity" and "-Infinity"
// and returns its value; ok is false (and nothing is consumed) otherwise.
func (s *scanner) nonFinite() (f float64, ok bool) {
	rest := s.buf[s.pos:]
	switch {
	case len(rest) >= 5 && string(rest[:5]) == `"NaN"`:
		s.pos += 5
		return math.NaN(), true
	case len(rest) >= 10 && string(rest[:10]) == `"Infinity"`:
		s.pos += 10
		return math.Inf(1), true
	case len(rest) >= 11 && string(rest[:11]) == `"-Infinity"`:
		s.pos += 11
		return math.Inf(-1), true
	}
	if len(rest) > 0 && rest[0] == '"' { // maybe with escapes
		at := s.pos
		if v, err := s.str(); err == nil {
			switch string(v) {
			case "NaN":
				return math.NaN(), true
			case "Infinity":
				return math.Inf(1), true
			case "-Infinity":
				return math.Inf(-1), true
			}
		}
		s.pos = at
	}
	return 0, false
}

// attachBinary gives the tensors that have binary_data_size their contents
// from bin, the body after the JSON header, in order. hasBinary reports
// whether the body has a binary part at all (the header length was given).
func attachBinary(ts []tensorState, bin []byte, hasBinary bool) error {
	off := 0
	for i := range ts {
		t := &ts[i]
		if !t.hasBin {
			continue
		}
		if !hasBinary {
			return t.errf("parameters.binary_data_size is set but the body has no binary part (the Inference-Header-Content-Length header is missing)")
		}
		if left := len(bin) - off; t.binSize > int64(left) {
			return t.errf("binary_data_size %d exceeds the %d bytes left in the body", t.binSize, left)
		}
		size := int(t.binSize)
		chunk := bin[off : off+size : off+size]
		off += size
		if err := t.setBinary(chunk); err != nil {
			return err
		}
	}
	if off != len(bin) {
		return BadRequest("the body has %d bytes after the binary tensors (their binary_data_size values add up to %d, the binary part after the JSON header is %d bytes)",
			len(bin)-off, off, len(bin))
	}
	return nil
}

// setBinary decodes t's contents from its chunk of the binary part.
func (t *tensorState) setBinary(chunk []byte) error {
	if t.dt != tensor.Bytes {
		want := t.n * int64(t.dt.Size())
		if int64(len(chunk)) != want {
			return t.errf("binary_data_size %d does not match shape %s of %s, which needs %d bytes", len(chunk), tensor.FormatShape(t.shape), t.dt, want)
		}
		if t.dt == tensor.Bool {
			for i, b := range chunk {
				if b > 1 {
					return t.errf("BOOL element %d is the byte %d, want 0 or 1", i, b)
				}
			}
		}
		t.data = chunk
		return nil
	}
	t.strs = make([][]byte, 0, min(t.n, int64(len(chunk)/4)))
	for p := 0; p < len(chunk); {
		if len(chunk)-p < 4 {
			return t.errf("BYTES element %d: %d bytes left in binary_data_size, too few for the 4-byte length", len(t.strs), len(chunk)-p)
		}
		l := int64(binary.LittleEndian.Uint32(chunk[p:]))
		p += 4
		if l > int64(len(chunk)-p) {
			return t.errf("BYTES element %d: length %d exceeds the %d bytes left in binary_data_size", len(t.strs), l, len(chunk)-p)
		}
		end := p + int(l)
		t.strs = append(t.strs, chunk[p:end:end])
		p = end
	}
	if int64(len(t.strs)) != t.n {
		return t.errf("shape %s needs %d elements, got %d in binary_data_size %d", tensor.FormatShape(t.shape), t.n, len(t.strs), len(chunk))
	}
	return nil
}
