package redisq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/taominer/taominer/models/tensor"
)

// Wire format. Every payload starts with a magic byte and a format version,
// then a kind byte (request or reply). Integers are unsigned varints unless
// said otherwise; a string is a varint length and its bytes.
//
//	request: id, model, version, deadline (8 bytes LE, unix ns), priority
//	         (8 bytes LE, IEEE-754 float64 bits), reply key, tensors
//	reply:   id, error string ("" = success), tensors
//	tensors: count, then per tensor: name, dtype byte, rank, dims...,
//	         then for fixed-size types the data length and the raw
//	         little-endian bytes, for BYTES the element count and each
//	         element as a length-prefixed byte string.
const (
	magic         = 0xA7
	formatVersion = 1
	kindRequest   = 1
	kindReply     = 2

	maxRank = 64 // larger ranks are refused as malformed
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed redisq payload")

// Request is one inference request as it travels through a stream.
type Request struct {
	ID       string // unique per front; replies are matched on it
	Model    string
	Version  string
	Deadline time.Time // the request is not run after it
	Priority float64   // batch.Priority scale: larger runs sooner
	ReplyKey string    // list the worker RPUSHes the reply to
	Inputs   []tensor.Tensor
}

// Reply is a worker's answer to one Request: outputs, or an error message.
type Reply struct {
	ID      string
	Err     string // non-empty: the request failed with this message
	Outputs []tensor.Tensor
}

// EncodeRequest encodes r. The tensors must be valid (tensor.Validate).
func EncodeRequest(r *Request) ([]byte, error) {
	b := make([]byte, 0, 64+len(r.ID)+len(r.Model)+len(r.Version)+len(r.ReplyKey)+tensorsSize(r.Inputs))
	b = append(b, magic, formatVersion, kindRequest)
	b = appendString(b, r.ID)
	b = appendString(b, r.Model)
	b = appendString(b, r.Version)
	var dl int64
	if !r.Deadline.IsZero() {
		dl = r.Deadline.UnixNano()
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(dl))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Priority))
	b = appendString(b, r.ReplyKey)
	return appendTensors(b, r.Inputs)
}

// DecodeRequest decodes a payload written by EncodeRequest. Bad input gives
// an error wrapping ErrMalformed, never a panic.
func DecodeRequest(p []byte) (*Request, error) {
	d := decoder{b: p}
	d.header(kindRequest)
	r := &Request{}
	r.ID = d.string()
	r.Model = d.string()
	r.Version = d.string()
	if dl := int64(d.uint64()); dl != 0 {
		r.Deadline = time.Unix(0, dl)
	}
	r.Priority = math.Float64frombits(d.uint64())
	r.ReplyKey = d.string()
	r.Inputs = d.tensors()
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return r, nil
}

// EncodeReply encodes r. The tensors must be valid (tensor.Validate).
func EncodeReply(r *Reply) ([]byte, error) {
	b := make([]byte, 0, 32+len(r.ID)+len(r.Err)+tensorsSize(r.Outputs))
	b = append(b, magic, formatVersion, kindReply)
	b = appendString(b, r.ID)
	b = appendString(b, r.Err)
	return appendTensors(b, r.Outputs)
}

// DecodeReply decodes a payload written by EncodeReply. Bad input gives an
// error wrapping ErrMalformed, never a panic.
func DecodeReply(p []byte) (*Reply, error) {
	d := decoder{b: p}
	d.header(kindReply)
	r := &Reply{}
	r.ID = d.string()
	r.Err = d.string()
	r.Outputs = d.tensors()
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	return r, nil
}

func tensorsSize(ts []tensor.Tensor) int {
	n := 0
	for i := range ts {
		n += 16 + len(ts[i].Name) + 10*len(ts[i].Shape) + ts[i].ByteSize()
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTensors(b []byte, ts []tensor.Tensor) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(ts)))
	for i := range ts {
		t := &ts[i]
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if len(t.Shape) > maxRank {
			return nil, fmt.Errorf("tensor %q: rank %d above %d", t.Name, len(t.Shape), maxRank)
		}
		b = appendString(b, t.Name)
		b = append(b, byte(t.DataType))
		b = binary.AppendUvarint(b, uint64(len(t.Shape)))
		for _, dim := range t.Shape {
			b = binary.AppendUvarint(b, uint64(dim))
		}
		if t.DataType == tensor.Bytes {
			b = binary.AppendUvarint(b, uint64(len(t.Strings)))
			for _, s := range t.Strings {
				b = binary.AppendUvarint(b, uint64(len(s)))
				b = append(b, s...)
			}
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(t.Data)))
		b = append(b, t.Data...)
	}
	return b, nil
}

// decoder reads p front to back; the first error sticks and later reads
// return zero values, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) header(kind byte) {
	if len(d.b) < 3 {
		d.fail("short header")
		return
	}
	if d.b[0] != magic || d.b[1] != formatVersion || d.b[2] != kind {
		d.fail("bad header % x (want %02x %02x %02x)", d.b[:3], magic, formatVersion, kind)
		return
	}
	d.b = d.b[3:]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// length reads a count of items of at least minSize bytes each and checks
// that many could still follow, so a forged length cannot make us allocate.
func (d *decoder) length(minSize int) int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if v > uint64(len(d.b)/minSize) {
		d.fail("length %d exceeds the %d bytes left", v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.fail("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes(d.length(1))) }

func (d *decoder) uint64() uint64 {
	p := d.bytes(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (d *decoder) tensors() []tensor.Tensor {
	// A tensor takes at least 4 bytes: name length, dtype, rank, data length.
	n := d.length(4)
	if d.err != nil || n == 0 {
		return nil
	}
	ts := make([]tensor.Tensor, n)
	for i := range ts {
		t := &ts[i]
		t.Name = d.string()
		if p := d.bytes(1); p != nil {
			t.DataType = tensor.DataType(p[0])
		}
		rank := d.length(1)
		if d.err != nil {
			return nil
		}
		if !t.DataType.Valid() {
			d.fail("tensor %q: invalid datatype %d", t.Name, uint8(t.DataType))
			return nil
		}
		if rank > maxRank {
			d.fail("tensor %q: rank %d above %d", t.Name, rank, maxRank)
			return nil
		}
		t.Shape = make([]int64, rank)
		elems := uint64(1)
		overflow := false
		for j := range t.Shape {
			dim := d.uvarint()
			if dim > math.MaxInt64 {
				d.fail("tensor %q: dimension %d out of range", t.Name, dim)
				return nil
			}
			t.Shape[j] = int64(dim)
			hi, lo := bits.Mul64(elems, dim)
			if hi != 0 || lo > math.MaxInt64 {
				overflow = true
			}
			elems = lo
		}
		if t.DataType == tensor.Bytes {
			count := d.length(1)
			if d.err != nil {
				return nil
			}
			if overflow || uint64(count) != elems {
				d.fail("tensor %q: shape %v holds %d elements, got %d", t.Name, t.Shape, elems, count)
				return nil
			}
			t.Strings = make([][]byte, count)
			for k := range t.Strings {
				t.Strings[k] = d.bytes(d.length(1))
			}
			continue
		}
		size := d.length(1)
		if d.err != nil {
			return nil
		}
		hi, want := bits.Mul64(elems, uint64(t.DataType.Size()))
		if overflow || hi != 0 || want != uint64(size) {
			d.fail("tensor %q: shape %v of %s does not match %d data bytes", t.Name, t.Shape, t.DataType, size)
			return nil
		}
		t.Data = d.bytes(size)
	}
	if d.err != nil {
		return nil
	}
	return ts
}
