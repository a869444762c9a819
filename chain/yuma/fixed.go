package yuma

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// I32F32 is a signed fixed-point number with 32 fractional bits, stored as its raw bits
// (value = bits / 2^32), with substrate-fixed v0.6.0 semantics: multiplication floors,
// division truncates toward zero, and every operation saturates at the type's range.
type I32F32 int64

// Frequently used constants.
const (
	Zero I32F32 = 0
	One  I32F32 = 1 << 32
	half I32F32 = 1 << 31
	// maxU16 is 65535 as I32F32.
	maxU16 I32F32 = 65535 << 32
)

// FromInt converts an integer, saturating at the I32F32 range.
func FromInt(v int64) I32F32 {
	if v > math.MaxInt32 {
		return math.MaxInt64
	}
	if v < math.MinInt32 {
		return math.MinInt64
	}
	return I32F32(v << 32)
}

// FromU64 converts an unsigned integer, saturating at the I32F32 maximum.
func FromU64(v uint64) I32F32 {
	if v > math.MaxInt32 {
		return math.MaxInt64
	}
	return I32F32(v << 32)
}

// FromF32 converts an f32 exactly as I32F32::saturating_from_num(x as f32) does: the f32 value
// is rounded to the nearest multiple of 2^-32, ties to even. The chain's tests build their
// inputs this way (math.rs `fixed`).
func FromF32(x float32) I32F32 { return FromF64(float64(x)) }

// FromF64 converts a float64 with rounding to nearest, ties to even, saturating.
func FromF64(x float64) I32F32 {
	if math.IsNaN(x) {
		return 0
	}
	v := math.RoundToEven(x * (1 << 32)) // scaling by a power of two is exact
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	if v <= math.MinInt64 {
		return math.MinInt64
	}
	return I32F32(v)
}

// Float64 returns the value as a float64 (for display and tolerances only).
func (a I32F32) Float64() float64 { return float64(a) / (1 << 32) }

// String formats the value with ten decimals, like the chain's debug logs.
func (a I32F32) String() string { return strconv.FormatFloat(a.Float64(), 'f', 10, 64) }

// Add is saturating addition.
func (a I32F32) Add(b I32F32) I32F32 {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		if a > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// Sub is saturating subtraction.
func (a I32F32) Sub(b I32F32) I32F32 {
	if b == math.MinInt64 {
		if a >= 0 {
			return math.MaxInt64
		}
		return a - b
	}
	return a.Add(-b)
}

func abs64(a int64) uint64 {
	if a < 0 {
		return uint64(-a) // also right for MinInt64: 1<<63
	}
	return uint64(a)
}

// mul returns the floored product and whether it overflowed (the result is then saturated).
func (a I32F32) mul(b I32F32) (I32F32, bool) {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(int64(a)), abs64(int64(b)))
	qhi := hi >> 32
	qlo := hi<<32 | lo>>32
	if !neg {
		if qhi != 0 || qlo > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return I32F32(qlo), false
	}
	// floor of a negative value rounds the magnitude up when bits were shifted out
	if lo<<32 != 0 {
		var c uint64
		qlo, c = bits.Add64(qlo, 1, 0)
		qhi += c
	}
	if qhi != 0 || qlo > 1<<63 {
		return math.MinInt64, true
	}
	return I32F32(-int64(qlo)), false // qlo == 1<<63 wraps to MinInt64, as intended
}

// Mul is saturating multiplication: (a·b) >> 32 on the double-width product, floored.
func (a I32F32) Mul(b I32F32) I32F32 { r, _ := a.mul(b); return r }

// CheckedMul is Mul that reports overflow.
func (a I32F32) CheckedMul(b I32F32) (I32F32, bool) { r, o := a.mul(b); return r, !o }

// div returns (a << 32) / b truncated toward zero and whether it overflowed. b must be non-zero.
func (a I32F32) div(b I32F32) (I32F32, bool) {
	neg := (a < 0) != (b < 0)
	ua, ub := abs64(int64(a)), abs64(int64(b))
	hi, lo := ua>>32, ua<<32
	if hi >= ub {
		if neg {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	}
	q, _ := bits.Div64(hi, lo, ub)
	if !neg {
		if q > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return I32F32(q), false
	}
	if q > 1<<63 {
		return math.MinInt64, true
	}
	return I32F32(-int64(q)), false
}

// Div is saturating division truncating toward zero; like the chain's safe_div it returns 0
// when b is 0.
func (a I32F32) Div(b I32F32) I32F32 {
	if b == 0 {
		return 0
	}
	r, _ := a.div(b)
	return r
}

// CheckedDiv is Div that reports overflow and division by zero.
func (a I32F32) CheckedDiv(b I32F32) (I32F32, bool) {
	if b == 0 {
		return 0, false
	}
	r, o := a.div(b)
	return r, !o
}

// Round rounds to the nearest integer, ties away from zero (fixed's round()).
func (a I32F32) Round() I32F32 {
	if a >= 0 {
		return (a.Add(half)) &^ (One - 1)
	}
	return -((-a).Add(half) &^ (One - 1))
}

// ToU16 is saturating_to_num::<u16>(): the integer part (floor), clamped to [0, 65535].
func (a I32F32) ToU16() uint16 {
	i := int64(a) >> 32
	if i < 0 {
		return 0
	}
	if i > math.MaxUint16 {
		return math.MaxUint16
	}
	return uint16(i)
}

// ToU64 is saturating_to_num::<u64>(): the integer part (floor), 0 for negatives.
func (a I32F32) ToU64() uint64 {
	if a < 0 {
		return 0
	}
	return uint64(a) >> 32
}

// ProportionToU16 is fixed_proportion_to_u16: floor(x · 65535), saturated to u16.
func ProportionToU16(x I32F32) uint16 { return x.Mul(maxU16).ToU16() }

// U16ProportionToFixed is u16_proportion_to_fixed: u / 65535.
func U16ProportionToFixed(u uint16) I32F32 { return FromU64(uint64(u)).Div(maxU16) }

// U16ToFixed is u16_to_fixed: the raw number u.
func U16ToFixed(u uint16) I32F32 { return FromU64(uint64(u)) }

// Clamp returns v limited to [lo, hi] (max(min(v, hi), lo), as the chain's clamp_value).
func Clamp(v, lo, hi I32F32) I32F32 { return max(min(v, hi), lo) }

// I64F64 is a signed fixed-point number with 64 fractional bits (i128 on chain). It is used
// only for stake, so it is backed by math/big; the zero value is 0.
type I64F64 struct{ v big.Int }

var (
	i64f64Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	i64f64Min = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
)

func (x *I64F64) saturate() *I64F64 {
	if x.v.Cmp(i64f64Max) > 0 {
		x.v.Set(i64f64Max)
	} else if x.v.Cmp(i64f64Min) < 0 {
		x.v.Set(i64f64Min)
	}
	return x
}

// I64F64FromU64 converts an integer.
func I64F64FromU64(u uint64) *I64F64 {
	x := new(I64F64)
	x.v.SetUint64(u)
	x.v.Lsh(&x.v, 64)
	return x
}

// I64F64FromBits builds a value from raw bits (value = bits / 2^64).
func I64F64FromBits(b *big.Int) *I64F64 { x := new(I64F64); x.v.Set(b); return x.saturate() }

// Bits returns a copy of the raw bits.
func (x *I64F64) Bits() *big.Int { return new(big.Int).Set(&x.v) }

// Add returns the saturating sum x + y.
func (x *I64F64) Add(y *I64F64) *I64F64 {
	r := new(I64F64)
	r.v.Add(&x.v, &y.v)
	return r.saturate()
}

// Mul returns the saturating product (x·y) >> 64, floored.
func (x *I64F64) Mul(y *I64F64) *I64F64 {
	r := new(I64F64)
	r.v.Mul(&x.v, &y.v)
	r.v.Rsh(&r.v, 64) // big.Int Rsh is an arithmetic shift: floor
	return r.saturate()
}

// Div returns (x << 64) / y truncated toward zero, or 0 when y is 0 (safe_div).
func (x *I64F64) Div(y *I64F64) *I64F64 {
	r := new(I64F64)
	if y.v.Sign() == 0 {
		return r
	}
	r.v.Lsh(&x.v, 64)
	r.v.Quo(&r.v, &y.v) // Quo truncates toward zero
	return r.saturate()
}

// IsZero reports whether x is 0.
func (x *I64F64) IsZero() bool { return x.v.Sign() == 0 }

// ToU64 is saturating_to_num::<u64>(): floor, clamped to [0, 2^64−1].
func (x *I64F64) ToU64() uint64 {
	if x.v.Sign() < 0 {
		return 0
	}
	i := new(big.Int).Rsh(&x.v, 64)
	if !i.IsUint64() {
		return math.MaxUint64
	}
	return i.Uint64()
}

// ToI32F32 drops the extra 32 fractional bits (floor) and saturates, as
// I32F32::saturating_from_num(I64F64) does.
func (x *I64F64) ToI32F32() I32F32 {
	i := new(big.Int).Rsh(&x.v, 32)
	if i.IsInt64() {
		return I32F32(i.Int64())
	}
	if i.Sign() < 0 {
		return math.MinInt64
	}
	return math.MaxInt64
}

// MulRao is the emission step in I96F32: I96F32::from(share) · I96F32::from(rao), converted
// with saturating_to_num::<u64>() (floor; negatives give 0).
func MulRao(share I32F32, rao uint64) uint64 {
	if share <= 0 {
		return 0
	}
	// share·2^32 · rao·2^32 >> 32 = share_bits·rao (I96F32 bits); the integer part drops 32 bits.
	hi, lo := bits.Mul64(uint64(share), rao)
	if hi>>32 != 0 {
		return math.MaxUint64
	}
	return hi<<32 | lo>>32
}

// exp is substrate-fixed v0.6.0 transcendental::exp for I32F32: a Taylor series with checked
// operations, 1/exp(−x) for negative x. ok is false on overflow.
func exp(x I32F32) (I32F32, bool) {
	if x == 0 {
		return One, true
	}
	if x == One {
		// E as I9F23 (floor(e·2^23)), widened.
		return I32F32(22802601) << 9, true
	}
	neg := x < 0
	if neg {
		x = -x
	}
	result, ok := x, true
	result = result.Add(One)
	if x > math.MaxInt64-One {
		return 0, false
	}
	term := x
	for i := int64(2); i < 32; i++ {
		if term, ok = term.CheckedMul(x); !ok {
			return 0, false
		}
		if term, ok = term.CheckedDiv(FromInt(i)); !ok {
			return 0, false
		}
		if result > math.MaxInt64-term {
			return 0, false
		}
		result += term
	}
	if neg {
		return One.CheckedDiv(result)
	}
	return result, true
}

// ExpSafe is the chain's exp_safe: the input is clamped to [−20, 20]; on overflow the result is
// 0 for non-positive inputs and the I32F32 maximum otherwise.
func ExpSafe(x I32F32) I32F32 {
	x = Clamp(x, FromInt(-20), FromInt(20))
	if r, ok := exp(x); ok {
		return r
	}
	if x <= 0 {
		return 0
	}
	return math.MaxInt64
}
