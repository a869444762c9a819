package api

import (
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/taominer/taominer/models/tensor"
)

// le encodes vals as little-endian bytes.
func le[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](vals ...T) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, vals)
	if err != nil {
		panic(err)
	}
	return b
}

// tns builds a fixed-size tensor.
func tns(name string, dt tensor.DataType, shape []int64, data []byte) tensor.Tensor {
	return tensor.Tensor{Name: name, DataType: dt, Shape: shape, Data: data}
}

// strTensor builds a BYTES tensor.
func strTensor(name string, shape []int64, vals ...string) tensor.Tensor {
	t := tensor.Tensor{Name: name, DataType: tensor.Bytes, Shape: shape, Strings: [][]byte{}}
	for _, v := range vals {
		t.Strings = append(t.Strings, []byte(v))
	}
	return t
}

// cmpOpts treats nil and empty slices and maps alike.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// wantBadRequest checks that err is an *Error with status 400 whose message
// contains want, and returns the message.
func wantBadRequest(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v of type %T, want *api.Error", err, err)
	}
	if e.Kind != KindBadInput || StatusOf(e) != http.StatusBadRequest {
		t.Errorf("got kind %v (status %d), want bad_input, 400 (error %q)", e.Kind, StatusOf(e), e.Message)
	}
	if !strings.Contains(e.Message, want) {
		t.Errorf("got error %q, want it to contain %q", e.Message, want)
	}
}

// validUTF8 replaces each byte of b that is not part of valid UTF-8 by
// U+FFFD, as the JSON codec does.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = utf8.AppendRune(out, r)
		b = b[n:]
	}
	return out
}

// jsonEquivalent returns what t becomes after a trip through JSON: BYTES
// elements with invalid UTF-8 repaired, and NaNs canonical.
func jsonEquivalent(t tensor.Tensor) tensor.Tensor {
	out := t
	if t.DataType == tensor.Bytes {
		out.Strings = make([][]byte, len(t.Strings))
		for i, s := range t.Strings {
			out.Strings[i] = validUTF8(s)
		}
		return out
	}
	d := append([]byte(nil), t.Data...)
	switch t.DataType {
	case tensor.FP16:
		for i := 0; i+2 <= len(d); i += 2 {
			if v := binary.LittleEndian.Uint16(d[i:]); v&0x7c00 == 0x7c00 && v&0x3ff != 0 {
				binary.LittleEndian.PutUint16(d[i:], 0x7e00)
			}
		}
	case tensor.BF16:
		for i := 0; i+2 <= len(d); i += 2 {
			if v := binary.LittleEndian.Uint16(d[i:]); v&0x7f80 == 0x7f80 && v&0x7f != 0 {
				binary.LittleEndian.PutUint16(d[i:], 0x7fc0)
			}
		}
	case tensor.FP32:
		for i := 0; i+4 <= len(d); i += 4 {
			if f := math.Float32frombits(binary.LittleEndian.Uint32(d[i:])); f != f {
				binary.LittleEndian.PutUint32(d[i:], math.Float32bits(float32(math.NaN())))
			}
		}
	case tensor.FP64:
		for i := 0; i+8 <= len(d); i += 8 {
			if f := math.Float64frombits(binary.LittleEndian.Uint64(d[i:])); f != f {
				binary.LittleEndian.PutUint64(d[i:], math.Float64bits(math.NaN()))
			}
		}
	case tensor.Bool:
		for i := range d {
			if d[i] != 0 {
				d[i] = 1
			}
		}
	}
	out.Data = d
	return out
}
