package api

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFloat64ToFP16(t *testing.T) {
	tests := []struct {
		in   float64
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{0, 0x0000},
		{math.Copysign(0, -1), 0x8000},
		{65504, 0x7bff},              // largest finite
		{65519.99, 0x7bff},           // just below the rounding boundary
		{65520, 0x7c00},              // halfway to 2^16: ties to even, which is Inf
		{1e10, 0x7c00},               // overflow
		{-1e10, 0xfc00},              // overflow
		{0.1, 0x2e66},                // inexact
		{1.0 / 3, 0x3555},            // inexact
		{math.Ldexp(1, -14), 0x0400}, // smallest normal
		{math.Ldexp(1, -24), 0x0001}, // smallest subnormal
		{math.Ldexp(1, -25), 0x0000}, // half the smallest subnormal: ties to even (0)
		{math.Ldexp(3, -26), 0x0001}, // 0.75 of the smallest subnormal
		{math.Ldexp(3, -25), 0x0002}, // 1.5 subnormal ulps: ties to even (2)
		{math.Ldexp(5, -25), 0x0002}, // 2.5 subnormal ulps: ties to even (2)
		{math.Ldexp(1023, -24), 0x03ff},
		{math.Ldexp(2047, -25), 0x0400},  // rounds up from subnormal into the smallest normal
		{1 + math.Ldexp(1, -11), 0x3c00}, // tie: to even
		{1 + math.Ldexp(3, -11), 0x3c02}, // tie: to even (up)
		{1 + math.Ldexp(1, -11) + math.Ldexp(1, -40), 0x3c01},
		{2049, 0x6800},
		{2051, 0x6802},
		{1e-300, 0x0000},
		{-5e-324, 0x8000},
		{math.Inf(1), 0x7c00},
		{math.Inf(-1), 0xfc00},
		{math.NaN(), 0x7e00},
		{-math.NaN(), 0xfe00},
	}
	for _, tc := range tests {
		if got := Float64ToFP16(tc.in); got != tc.want {
			t.Errorf("Float64ToFP16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

func TestFloat64ToBF16(t *testing.T) {
	tests := []struct {
		in   float64
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Pi, 0x4049},
		{3.140625, 0x4049},
		{0.1, 0x3dcd},
		{1 + math.Ldexp(1, -8), 0x3f80}, // tie: to even
		{1 + math.Ldexp(3, -8), 0x3f82}, // tie: to even (up)
		{math.Ldexp(255, 120), 0x7f7f},  // largest finite, 3.3895314e38
		{math.MaxFloat32, 0x7f80},       // rounds up to Inf
		{1e39, 0x7f80},
		{math.Ldexp(1, -133), 0x0001}, // smallest subnormal
		{math.Ldexp(1, -134), 0x0000}, // tie: to even
		{math.Ldexp(1, -126), 0x0080}, // smallest normal
		{math.Copysign(0, -1), 0x8000},
		{math.NaN(), 0x7fc0},
		{math.Inf(-1), 0xff80},
	}
	for _, tc := range tests {
		if got := Float64ToBF16(tc.in); got != tc.want {
			t.Errorf("Float64ToBF16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

// TestHalfRoundTrip checks that every 16-bit pattern survives the trip to
// float32 and back, and that converted values match the format's layout.
func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		f := FP16ToFloat32(h)
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if got := Float64ToFP16(float64(f)); got != h && !isNaN {
			t.Fatalf("Float64ToFP16(FP16ToFloat32(%#04x) = %g) = %#04x", h, f, got)
		}
		if isNaN != (f != f) {
			t.Fatalf("FP16ToFloat32(%#04x) = %g, NaN mismatch", h, f)
		}
		b := BF16ToFloat32(h)
		isNaN = h&0x7f80 == 0x7f80 && h&0x7f != 0
		if got := Float64ToBF16(float64(b)); got != h && !isNaN {
			t.Fatalf("Float64ToBF16(BF16ToFloat32(%#04x) = %g) = %#04x", h, b, got)
		}
	}
}

// TestHalfRoundingProperty checks on random values that the conversions
// return the nearest value, ties to even, against references built from the
// exact float32 values.
func TestHalfRoundingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		// Random float32 bit patterns, so bf16 has an exact reference.
		x := math.Float32frombits(rng.Uint32())
		if x != x {
			continue
		}
		bits := math.Float32bits(x)
		want := uint16((bits + 0x7fff + (bits>>16)&1) >> 16)
		if got := Float64ToBF16(float64(x)); got != want {
			t.Fatalf("Float64ToBF16(%g) = %#04x, want %#04x", x, got, want)
		}
		// FP16: the result must be at least as close as its neighbours.
		f := math.Ldexp(rng.Float64()*2-1, rng.IntN(40)-28)
		h := Float64ToFP16(f)
		if h&0x7fff >= 0x7c00 {
			if math.Abs(f) < 65520 {
				t.Fatalf("Float64ToFP16(%g) = %#04x, overflowed", f, h)
			}
			continue
		}
		got := float64(FP16ToFloat32(h))
		d := math.Abs(f - got)
		for _, n := range []uint16{h - 1, h + 1} {
			if n&0x7fff >= 0x7c00 || (h&0x7fff == 0 && n&0x7fff == 0x7fff) {
				continue
			}
			nd := math.Abs(f - float64(FP16ToFloat32(n)))
			if nd < d || nd == d && h&1 == 1 {
				t.Fatalf("Float64ToFP16(%g) = %#04x (%g), but %#04x (%g) is nearer or even", f, h, got, n, FP16ToFloat32(n))
			}
		}
	}
}
