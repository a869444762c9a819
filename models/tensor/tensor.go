// Package tensor holds the one tensor representation that crosses the miner:
// a KServe v2 data type, a shape and the elements as raw little-endian bytes
// (or, for BYTES, one byte slice per element). The HTTP codec decodes straight
// into it and ONNX Runtime reads it without conversion. It depends on the
// standard library only, so both the wire layer (api) and the runtime layer
// (models) can share it.
package tensor

import (
	"errors"
	"fmt"
	"strings"
)

// DataType is a KServe v2 / Open Inference Protocol tensor data type.
type DataType uint8

// The data types of the Open Inference Protocol, plus Triton's BF16.
const (
	Invalid DataType = iota
	Bool
	Uint8
	Uint16
	Uint32
	Uint64
	Int8
	Int16
	Int32
	Int64
	FP16
	FP32
	FP64
	BF16
	Bytes
)

var names = [...]string{
	Invalid: "INVALID",
	Bool:    "BOOL",
	Uint8:   "UINT8",
	Uint16:  "UINT16",
	Uint32:  "UINT32",
	Uint64:  "UINT64",
	Int8:    "INT8",
	Int16:   "INT16",
	Int32:   "INT32",
	Int64:   "INT64",
	FP16:    "FP16",
	FP32:    "FP32",
	FP64:    "FP64",
	BF16:    "BF16",
	Bytes:   "BYTES",
}

var sizes = [...]int{
	Bool: 1, Uint8: 1, Uint16: 2, Uint32: 4, Uint64: 8,
	Int8: 1, Int16: 2, Int32: 4, Int64: 8,
	FP16: 2, FP32: 4, FP64: 8, BF16: 2, Bytes: 0,
}

// String returns the protocol name of the data type ("FP32", "BYTES", ...).
func (d DataType) String() string {
	if int(d) < len(names) {
		return names[d]
	}
	return fmt.Sprintf("DataType(%d)", uint8(d))
}

// Size returns the size in bytes of one element, or 0 for BYTES (variable)
// and invalid types.
func (d DataType) Size() int {
	if int(d) < len(sizes) {
		return sizes[d]
	}
	return 0
}

// Valid reports whether d is one of the protocol's data types.
func (d DataType) Valid() bool { return d > Invalid && d <= Bytes }

// ParseDataType maps a protocol name ("FP32") to its DataType. Matching is
// exact, as in the protocol.
func ParseDataType(s string) (DataType, error) {
	for i, n := range names {
		if i != int(Invalid) && n == s {
			return DataType(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown datatype %q (want one of %s)", s, strings.Join(names[1:], ", "))
}

// MarshalText encodes the data type as its protocol name.
func (d DataType) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("invalid datatype %d", uint8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes a protocol name.
func (d *DataType) UnmarshalText(b []byte) error {
	v, err := ParseDataType(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ErrShape reports a tensor whose data does not match its shape.
var ErrShape = errors.New("tensor data does not match shape")

// Tensor is a named, typed, shaped tensor. Fixed-size types keep their
// elements in Data as little-endian bytes, row-major, without padding (the
// binary tensor extension's layout). BYTES tensors keep one slice per element
// in Strings and leave Data nil.
type Tensor struct {
	Name     string
	DataType DataType
	Shape    []int64
	Data     []byte
	Strings  [][]byte
}

// NumElements returns the product of the shape's dimensions (1 for a scalar).
// A negative dimension makes it -1.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// NumElements returns the element count of t's shape.
func (t *Tensor) NumElements() int64 { return NumElements(t.Shape) }

// ByteSize returns the size of the tensor's contents in the binary extension's
// layout: element bytes, or for BYTES a 4-byte length before each element.
func (t *Tensor) ByteSize() int {
	if t.DataType == Bytes {
		n := 0
		for _, s := range t.Strings {
			n += 4 + len(s)
		}
		return n
	}
	return len(t.Data)
}

// Validate checks that the data type is known, the dimensions are not
// negative, and the element storage matches the shape.
func (t *Tensor) Validate() error {
	if !t.DataType.Valid() {
		return fmt.Errorf("tensor %q: invalid datatype", t.Name)
	}
	n := t.NumElements()
	if n < 0 {
		return fmt.Errorf("tensor %q: negative dimension in shape %v", t.Name, t.Shape)
	}
	if t.DataType == Bytes {
		if int64(len(t.Strings)) != n {
			return fmt.Errorf("tensor %q: %w: shape %v holds %d elements, got %d", t.Name, ErrShape, t.Shape, n, len(t.Strings))
		}
		return nil
	}
	if want := n * int64(t.DataType.Size()); int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %q: %w: shape %v of %s needs %d bytes, got %d", t.Name, ErrShape, t.Shape, t.DataType, want, len(t.Data))
	}
	return nil
}

// FormatShape renders a shape as the protocol writes it: [1,3,48,192].
func FormatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(']')
	return b.String()
}
