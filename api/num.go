package api

import (
	"fmt"
	"math"
	"strconv"

	"github.com/taominer/taominer/models/tensor"
)

// num is a JSON number scanned by scanNumber: its text, and for the common
// case its value as mant × 10^exp with up to 19 significant digits.
type num struct {
	tok     []byte
	mant    uint64 // significant digits, when !trunc
	exp     int    // decimal exponent, when !trunc
	neg     bool
	integer bool // no fraction or exponent part
	trunc   bool // more than 19 significant digits or a huge exponent: use tok
}

// pow10 holds the powers of ten that are exact in float64.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scanNumber consumes a JSON number, checking its syntax, and accumulates its
// digits on the way. The scanner must be at '-' or a digit.
func (s *scanner) scanNumber() (n num, err error) {
	b, i := s.buf, s.pos
	if i < len(b) && b[i] == '-' {
		n.neg = true
		i++
	}
	var mant uint64
	digits := 0 // significant digits in mant
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			if digits < 19 {
				mant = mant*10 + uint64(d)
				digits++
			} else {
				n.trunc = true
			}
		}
	default:
		s.pos = i
		return n, s.syntaxErr("a digit")
	}
	exp := 0
	n.integer = true
	if i < len(b) && b[i] == '.' {
		n.integer = false
		i++
		start := i
		if mant == 0 { // leading zeros only scale
			for ; i < len(b) && b[i] == '0'; i++ {
				exp--
			}
		}
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			if digits < 19 {
				mant = mant*10 + uint64(d)
				digits++
				exp--
			} else {
				n.trunc = true
			}
		}
		if i == start {
			s.pos = i
			return n, s.syntaxErr("a digit after '.'")
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		n.integer = false
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		start, e := i, 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			} else {
				n.trunc = true
			}
		}
		if i == start {
			s.pos = i
			return n, s.syntaxErr("a digit in the exponent")
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	n.tok, n.mant, n.exp = b[s.pos:i], mant, exp
	s.pos = i
	return n, nil
}

// number consumes a JSON number and returns its text; integer reports that
// it has neither fraction nor exponent.
func (s *scanner) number() (tok []byte, integer bool, err error) {
	n, err := s.scanNumber()
	return n.tok, n.integer, err
}

// float64Exact returns n as the correctly rounded float64 when the fast path
// applies: the significand and the power of ten are both exact in float64, so
// one multiplication or division rounds correctly (Clinger's fast path).
func (n *num) float64Exact() (float64, bool) {
	if n.trunc || n.mant > 1<<53 || n.exp < -22 || n.exp > 22 {
		return 0, false
	}
	f := float64(n.mant)
	if n.exp >= 0 {
		f *= pow10[n.exp]
	} else {
		f /= pow10[-n.exp]
	}
	if n.neg {
		f = -f
	}
	return f, true
}

// float decodes n for a floating-point type. The result is the float64
// nearest to the decimal; for FP32 it is exactly representable in float32 and
// the float32 nearest to the decimal. ok is false when the value overflows
// the type.
func (n *num) float(dt tensor.DataType) (f float64, ok bool) {
	if dt == tensor.FP32 {
		if f, ok := n.float64Exact(); ok {
			// Rounding the correctly rounded float64 to float32 is correct
			// unless it lies exactly halfway between two float32 values, or
			// in float32's subnormal or overflow range: leave those to strconv.
			a := math.Abs(f)
			mid := math.Float64bits(f)&(1<<29-1) == 1<<28
			if !mid && a >= 0x1p-126 && a <= math.MaxFloat32 || f == 0 {
				return float64(float32(f)), true
			}
		}
		f, err := strconv.ParseFloat(unsafeString(n.tok), 32)
		return f, err == nil
	}
	f, fast := n.float64Exact()
	if !fast {
		var err error
		if f, err = strconv.ParseFloat(unsafeString(n.tok), 64); err != nil {
			return f, false
		}
	}
	switch dt {
	case tensor.FP16:
		return f, Float64ToFP16(f)&0x7fff != 0x7c00
	case tensor.BF16:
		return f, Float64ToBF16(f)&0x7fff != 0x7f80
	}
	return f, true
}

// intRange returns the range of an integer datatype.
func intRange(dt tensor.DataType) (lo int64, hi uint64) {
	switch dt {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32
	case tensor.Int64:
		return math.MinInt64, math.MaxInt64
	case tensor.Uint8:
		return 0, math.MaxUint8
	case tensor.Uint16:
		return 0, math.MaxUint16
	case tensor.Uint32:
		return 0, math.MaxUint32
	}
	return 0, math.MaxUint64
}

// integralFloat decodes a number in fraction or exponent notation that must
// hold an integer of magnitude at most 2^53.
func (n *num) integralFloat(dt tensor.DataType) (float64, error) {
	f, err := strconv.ParseFloat(unsafeString(n.tok), 64)
	switch {
	case err == nil && f != math.Trunc(f):
		return 0, fmt.Errorf("%s is not an integer (%s)", n.tok, dt)
	case err != nil || math.Abs(f) > maxExactFloat:
		return 0, fmt.Errorf("%s: integers beyond 2^53 must be written in integer notation (%s)", n.tok, dt)
	}
	return f, nil
}

// signed decodes n for a signed integer type.
func (n *num) signed(dt tensor.DataType) (int64, error) {
	lo, hi := intRange(dt)
	if !n.integer {
		f, err := n.integralIn(dt, float64(lo), float64(hi))
		return int64(f), err
	}
	var v int64
	switch {
	case n.trunc || n.mant > 1<<63 || n.mant == 1<<63 && !n.neg:
		return 0, n.outOfRange(dt)
	case n.neg:
		v = -int64(n.mant) // 1<<63 wraps to MinInt64, as it should
	default:
		v = int64(n.mant)
	}
	if v < lo || v > int64(hi) {
		return 0, n.outOfRange(dt)
	}
	return v, nil
}

// unsigned decodes n for an unsigned integer type.
func (n *num) unsigned(dt tensor.DataType) (uint64, error) {
	_, hi := intRange(dt)
	if !n.integer {
		f, err := n.integralIn(dt, 0, float64(hi))
		return uint64(f), err
	}
	v := n.mant
	switch {
	case n.neg && n.mant != 0 || n.neg && n.trunc:
		return 0, n.outOfRange(dt)
	case n.trunc: // 20 digits or more: may still fit a uint64
		var err error
		if v, err = strconv.ParseUint(unsafeString(n.tok), 10, 64); err != nil {
			return 0, n.outOfRange(dt)
		}
	}
	if v > hi {
		return 0, n.outOfRange(dt)
	}
	return v, nil
}

// integralIn is integralFloat for a type whose range is [lo, hi]; it
// returns 0 with the error. The bounds need not be exact in float64: the
// value is at most 2^53 in magnitude.
func (n *num) integralIn(dt tensor.DataType, lo, hi float64) (float64, error) {
	f, err := n.integralFloat(dt)
	switch {
	case err != nil:
		return 0, err
	case f < lo || f > hi:
		return 0, n.outOfRange(dt)
	}
	return f, nil
}

// outOfRange is the error of a number outside dt's range.
func (n *num) outOfRange(dt tensor.DataType) error {
	return fmt.Errorf("%s is out of range for %s", n.tok, dt)
}
