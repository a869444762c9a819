package api

import "math"

// Float64ToFP16 converts f to the bit pattern of the nearest IEEE 754
// binary16 value, rounding to nearest even. Values beyond the range round to
// ±Inf and NaN maps to a quiet NaN of the same sign.
func Float64ToFP16(f float64) uint16 { return uint16(roundFloat64(f, 5, 10)) }

// Float64ToBF16 converts f to the bit pattern of the nearest bfloat16 value,
// rounding to nearest even (from f directly, so without the double rounding
// of going through float32).
func Float64ToBF16(f float64) uint16 { return uint16(roundFloat64(f, 8, 7)) }

// FP16ToFloat32 returns the value of the binary16 bit pattern h; every
// binary16 value is exact in float32.
func FP16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
	case man == 0: // zero
		return math.Float32frombits(sign)
	}
	// Subnormal: man × 2^-24, exact in float32.
	v := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// BF16ToFloat32 returns the value of the bfloat16 bit pattern b (the upper
// half of a float32).
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// roundFloat64 rounds f to nearest even in a binary format with expBits
// exponent bits and manBits stored mantissa bits (at most 8 and 23) and
// returns its bit pattern.
func roundFloat64(f float64, expBits, manBits uint) uint32 {
	b := math.Float64bits(f)
	sign := uint32(b>>63) << (expBits + manBits)
	exp := int(b>>52) & 0x7ff
	man := b & (1<<52 - 1)
	maxExp := uint32(1)<<expBits - 1
	inf := sign | maxExp<<manBits
	if exp == 0x7ff {
		if man != 0 {
			return inf | 1<<(manBits-1) // quiet NaN
		}
		return inf
	}
	if exp == 0 {
		return sign // float64 zero or subnormal: far below the target's range
	}
	bias := 1<<(expBits-1) - 1
	e := exp - 1023 + bias // biased target exponent
	m := man | 1<<52       // 53-bit significand
	shift := 52 - manBits
	if e < 1 { // subnormal in the target
		shift += uint(1 - e)
		e = 1
	}
	if shift > 54 {
		return sign // below half the smallest subnormal
	}
	q := m >> shift
	rem := m & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	// q includes the implicit bit at 1<<manBits (absent for subnormals); a
	// carry out of the mantissa moves into the exponent as it should.
	// For a subnormal e is 1, so r is q: exponent field 0, or 1 if rounding
	// reached the smallest normal.
	r := uint64(e-1)<<manBits + q
	if r >= uint64(maxExp)<<manBits {
		return inf
	}
	return sign | uint32(r)
}
