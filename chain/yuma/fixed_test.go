package yuma

import (
	"math"
	"math/big"
	"testing"
)

func TestI32F32Rounding(t *testing.T) {
	tests := []struct {
		name string
		got  I32F32
		want I32F32
	}{
		{"mul floors positive", I32F32(3).Mul(I32F32(1 << 31)), 1},   // 1.5 ulp → 1
		{"mul floors negative", I32F32(-3).Mul(I32F32(1 << 31)), -2}, // −1.5 ulp → −2
		{"mul exact", FromInt(3).Mul(FromInt(-4)), FromInt(-12)},     //
		{"mul saturates", FromInt(1 << 20).Mul(FromInt(1 << 20)), math.MaxInt64},
		{"mul saturates negative", FromInt(-(1 << 20)).Mul(FromInt(1 << 20)), math.MinInt64},
		{"div truncates positive", One.Div(FromInt(3)), 1431655765},         // 0.333…·2^32 = 1431655765.33
		{"div truncates toward zero", One.Div(FromInt(-3)), -1431655765},    // not −1431655766
		{"div by zero is zero", One.Div(0), 0},                              // safe_div
		{"div saturates", FromInt(1 << 30).Div(I32F32(1)), math.MaxInt64},   //
		{"add saturates", I32F32(math.MaxInt64).Add(1), math.MaxInt64},      //
		{"sub saturates", I32F32(math.MinInt64).Sub(1), math.MinInt64},      //
		{"from f32 0.1", FromF32(0.1), 429496736},                           // f32 0.1 = 13421773·2^-27 exactly
		{"from f64 0.1", FromF64(0.1), 429496730},                           // 429496729.6 → 429496730
		{"from f64 tie to even", FromF64(2.5 / (1 << 32)), 2},               //
		{"from f64 tie to even up", FromF64(3.5 / (1 << 32)), 4},            //
		{"round half away from zero", FromF64(2.5).Round(), FromInt(3)},     //
		{"round negative half away", FromF64(-2.5).Round(), FromInt(-3)},    //
		{"round down", FromF64(2.49).Round(), FromInt(2)},                   //
		{"u16 proportion", U16ProportionToFixed(65535), One},                //
		{"u16 proportion half", U16ProportionToFixed(32767), 2147450879},    // (32767<<32)/65535 truncated
		{"kappa", FromU64(32767).Div(FromU64(65535)), 2147450879},           //
		{"exp(0)", ExpSafe(0), One},                                         //
		{"exp(1) is E as I9F23", ExpSafe(One), I32F32(22802601) << 9},       //
		{"exp clamps below", ExpSafe(FromInt(-100)), ExpSafe(FromInt(-20))}, //
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d (%s), want %d (%s)", tt.name, tt.got, tt.got, tt.want, tt.want)
		}
	}
}

func TestConversions(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"proportion 1 → 65535", uint64(ProportionToU16(One)), 65535},
		{"proportion floors", uint64(ProportionToU16(FromF64(0.5))), 32767},
		{"proportion saturates", uint64(ProportionToU16(FromInt(2))), 65535},
		{"proportion negative → 0", uint64(ProportionToU16(FromF64(-0.5))), 0},
		{"to u64 floors", FromF64(2.99).ToU64(), 2},
		{"rao 1/4", MulRao(FromF64(0.25), 1_000_000_000), 250_000_000},
		{"rao 1/10 floors", MulRao(One.Div(FromInt(10)), 1_000_000_000), 99_999_999},
		{"rao negative", MulRao(-One, 5), 0},
		{"rao saturates", MulRao(FromInt(1<<30), math.MaxUint64), math.MaxUint64},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestExpMatchesFloat(t *testing.T) {
	for _, x := range []float64{-20, -10, -5, -1, -0.5, 0.25, 0.5, 2, 5} {
		got := ExpSafe(FromF64(x)).Float64()
		if want := math.Exp(x); math.Abs(got-want) > 1e-6*math.Max(1, want) {
			t.Errorf("exp(%g) = %g, want ≈ %g", x, got, want)
		}
	}
}

func TestI64F64(t *testing.T) {
	third := I64F64FromU64(1).Div(I64F64FromU64(3))
	want := new(big.Int).Quo(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(3))
	if third.Bits().Cmp(want) != 0 {
		t.Errorf("1/3 = %v, want %v", third.Bits(), want)
	}
	if got := third.ToI32F32(); got != 1431655765 {
		t.Errorf("1/3 as I32F32 = %d, want 1431655765 (truncated)", got)
	}
	if got := I64F64FromU64(7).Div(new(I64F64)); !got.IsZero() {
		t.Errorf("x/0 = %v, want 0", got.Bits())
	}
	if got := I64F64FromU64(3).Mul(third).ToU64(); got != 0 {
		t.Errorf("floor(3·(1/3)) = %d, want 0 (the product is just below 1)", got)
	}
	if got := I64F64FromU64(math.MaxUint64).ToU64(); got != math.MaxUint64 {
		t.Errorf("u64 max round trip = %d", got)
	}
}

func TestMaxUpscaleToU16(t *testing.T) {
	tests := []struct {
		name string
		in   []uint16
		want []uint16
	}{
		{"test_bonds weights", []uint16{16383, 32767, 49149, 65535}, []uint16{16383, 32767, 49149, 65535}},
		{"halves become max", []uint16{32767, 32767}, []uint16{65535, 65535}},
		{"rounds half away", []uint16{1, 2}, []uint16{32768, 65535}},
		{"all zero", []uint16{0, 0}, []uint16{0, 0}},
		{"empty", nil, []uint16{}},
	}
	for _, tt := range tests {
		got := U16MaxUpscaleToU16(tt.in)
		if len(got) != len(tt.want) {
			t.Fatalf("%s: got %v, want %v", tt.name, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
