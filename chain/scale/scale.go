// Package scale implements the parts of the SCALE codec (Parity's Simple Concatenated Aggregate
// Little-Endian encoding) that the chain client needs: fixed-width little-endian integers, compact
// integers (including big ones), bool, Option, Vec and byte strings, and the transaction era.
//
// Encoding is done with Append* functions that extend a byte slice. Decoding goes through a
// Decoder with a sticky error: after the first failure every read returns a zero value and Err
// reports what went wrong, so decoders of composite types can read field after field and check once.
package scale

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// ErrShortInput is returned (wrapped) when the input ends before a value is complete.
var ErrShortInput = errors.New("scale: unexpected end of input")

// ErrInvalid is returned (wrapped) for bytes that are not a valid encoding (bad bool or option
// flag, non-canonical compact, lengths that cannot fit in the input).
var ErrInvalid = errors.New("scale: invalid encoding")

// Uint128 is an unsigned 128-bit integer as SCALE stores it (16 bytes little-endian).
type Uint128 struct {
	Lo, Hi uint64
}

// Big returns u as a big.Int.
func (u Uint128) Big() *big.Int {
	b := new(big.Int).SetUint64(u.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(u.Lo))
}

// String returns u in decimal.
func (u Uint128) String() string { return u.Big().String() }

// AppendU8 appends v.
func AppendU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendU16 appends v as 2 bytes little-endian.
func AppendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }

// AppendU32 appends v as 4 bytes little-endian.
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendU64 appends v as 8 bytes little-endian.
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendU128 appends v as 16 bytes little-endian.
func AppendU128(b []byte, v Uint128) []byte {
	b = binary.LittleEndian.AppendUint64(b, v.Lo)
	return binary.LittleEndian.AppendUint64(b, v.Hi)
}

// AppendBool appends 0x01 for true and 0x00 for false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendCompact appends v in compact (variable-length) form: single-byte mode below 2^6,
// two-byte below 2^14, four-byte below 2^30, otherwise big-integer mode.
func AppendCompact(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v)<<2)
	case v < 1<<14:
		return binary.LittleEndian.AppendUint16(b, uint16(v)<<2|1)
	case v < 1<<30:
		return binary.LittleEndian.AppendUint32(b, uint32(v)<<2|2)
	}
	n := (bits.Len64(v) + 7) / 8
	b = append(b, byte(n-4)<<2|3)
	for i := 0; i < n; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// AppendCompactBig appends a non-negative v (up to 536 bits) in compact form.
func AppendCompactBig(b []byte, v *big.Int) ([]byte, error) {
	if v.Sign() < 0 {
		return b, fmt.Errorf("scale: compact of negative number %s", v)
	}
	if v.IsUint64() {
		return AppendCompact(b, v.Uint64()), nil
	}
	le := v.Bytes() // big-endian, no leading zeros
	if len(le) > 67 {
		return b, fmt.Errorf("scale: compact of %d-byte number: at most 67 bytes", len(le))
	}
	b = append(b, byte(len(le)-4)<<2|3)
	for i := len(le) - 1; i >= 0; i-- {
		b = append(b, le[i])
	}
	return b, nil
}

// AppendBytes appends p as Vec<u8>: its compact length, then the bytes.
func AppendBytes(b, p []byte) []byte {
	b = AppendCompact(b, uint64(len(p)))
	return append(b, p...)
}

// AppendString appends s as a SCALE string (same as Vec<u8> of its UTF-8 bytes).
func AppendString(b []byte, s string) []byte {
	b = AppendCompact(b, uint64(len(s)))
	return append(b, s...)
}

// AppendOptionNone appends the None marker of an Option.
func AppendOptionNone(b []byte) []byte { return append(b, 0) }

// AppendOptionSome appends the Some marker of an Option; the caller appends the value after it.
func AppendOptionSome(b []byte) []byte { return append(b, 1) }

// Decoder reads SCALE values from a byte slice. The zero value is not usable; see NewDecoder.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a decoder reading p from its start.
func NewDecoder(p []byte) *Decoder { return &Decoder{buf: p} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset returns how many bytes have been consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns how many bytes are left.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Fail records err (if no error was recorded yet); decoders of composite types use it to report
// their own validation failures through the same sticky error.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Finish returns the first error, or an error if input is left over.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if r := d.Remaining(); r != 0 {
		return fmt.Errorf("%w: %d trailing bytes at offset %d", ErrInvalid, r, d.off)
	}
	return nil
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShortInput, n, d.off, len(d.buf)-d.off)
		return nil
	}
	p := d.buf[d.off : d.off+n]
	d.off += n
	return p
}

// Bytes returns the next n bytes (a sub-slice of the input, not a copy).
func (d *Decoder) Bytes(n int) []byte { return d.take(n) }

// Skip consumes n bytes.
func (d *Decoder) Skip(n int) { d.take(n) }

// U8 reads one byte.
func (d *Decoder) U8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// U16 reads a little-endian uint16.
func (d *Decoder) U16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

// U32 reads a little-endian uint32.
func (d *Decoder) U32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

// U64 reads a little-endian uint64.
func (d *Decoder) U64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// I64 reads a little-endian int64.
func (d *Decoder) I64() int64 { return int64(d.U64()) }

// U128 reads a little-endian 128-bit unsigned integer.
func (d *Decoder) U128() Uint128 {
	p := d.take(16)
	if p == nil {
		return Uint128{}
	}
	return Uint128{Lo: binary.LittleEndian.Uint64(p), Hi: binary.LittleEndian.Uint64(p[8:])}
}

// Array32 reads 32 bytes (an AccountId32 or an H256).
func (d *Decoder) Array32() [32]byte {
	var a [32]byte
	copy(a[:], d.take(32))
	return a
}

// Bool reads a bool (0x00 or 0x01; anything else is an error).
func (d *Decoder) Bool() bool { return d.flag("bool") }

// Option reads an Option marker and reports whether a value follows.
func (d *Decoder) Option() bool { return d.flag("option") }

// flag reads a 0x00 (false) or 0x01 (true) byte; anything else is an error
// naming what was read.
func (d *Decoder) flag(what string) bool {
	switch b := d.U8(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.Fail(fmt.Errorf("%w: %s byte 0x%02x at offset %d", ErrInvalid, what, b, d.off-1))
		return false
	}
}

// Compact reads a compact integer that fits in 64 bits.
func (d *Decoder) Compact() uint64 {
	start := d.off
	b0 := d.U8()
	if d.err != nil {
		return 0
	}
	switch b0 & 3 {
	case 0:
		return uint64(b0 >> 2)
	case 1:
		b1 := d.U8()
		v := uint64(b0)>>2 | uint64(b1)<<6
		if d.err == nil && v < 1<<6 {
			d.Fail(fmt.Errorf("%w: non-canonical compact at offset %d", ErrInvalid, start))
		}
		return v
	case 2:
		p := d.take(3)
		if p == nil {
			return 0
		}
		v := (uint64(b0) | uint64(p[0])<<8 | uint64(p[1])<<16 | uint64(p[2])<<24) >> 2
		if v < 1<<14 {
			d.Fail(fmt.Errorf("%w: non-canonical compact at offset %d", ErrInvalid, start))
		}
		return v
	}
	n := int(b0>>2) + 4
	if n > 8 {
		d.Fail(fmt.Errorf("%w: compact of %d bytes at offset %d does not fit in 64 bits", ErrInvalid, n, start))
		return 0
	}
	p := d.take(n)
	if p == nil {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	if v < 1<<30 || (n > 4 && p[n-1] == 0) {
		d.Fail(fmt.Errorf("%w: non-canonical compact at offset %d", ErrInvalid, start))
	}
	return v
}

// CompactBig reads a compact integer of any size (up to 67 bytes, as SCALE allows).
func (d *Decoder) CompactBig() *big.Int {
	if d.err != nil {
		return new(big.Int)
	}
	if d.Remaining() > 0 && d.buf[d.off]&3 == 3 {
		n := int(d.buf[d.off]>>2) + 4
		if n > 8 {
			d.off++
			p := d.take(n)
			if p == nil {
				return new(big.Int)
			}
			be := make([]byte, n)
			for i := range p {
				be[n-1-i] = p[i]
			}
			return new(big.Int).SetBytes(be)
		}
	}
	return new(big.Int).SetUint64(d.Compact())
}

// Len reads a compact length prefix (of a Vec or a byte string) and checks that at least
// minElem×length bytes remain, so a corrupt length cannot make the caller allocate wildly.
func (d *Decoder) Len(minElem int) int {
	start := d.off
	n := d.Compact()
	if d.err != nil {
		return 0
	}
	if minElem < 1 {
		minElem = 1
	}
	if n > uint64(d.Remaining()/minElem) {
		d.Fail(fmt.Errorf("%w: length %d at offset %d exceeds the %d bytes left", ErrShortInput, n, start, d.Remaining()))
		return 0
	}
	return int(n)
}

// VecBytes reads a Vec<u8> (compact length, then the bytes) and returns a sub-slice of the input.
func (d *Decoder) VecBytes() []byte {
	n := d.Len(1)
	return d.take(n)
}

// Str reads a SCALE string.
func (d *Decoder) Str() string { return string(d.VecBytes()) }
