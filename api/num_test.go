package api

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/taominer/taominer/models/tensor"
)

// randomNumber returns random JSON number text biased towards the shapes
// clients send: short and long mantissas, fractions and exponents.
func randomNumber(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(2) == 0 {
		b.WriteByte('-')
	}
	digits := func(n int, first bool) {
		for i := range n {
			if i == 0 && first {
				b.WriteByte(byte('1' + rng.IntN(9)))
			} else {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
	}
	if rng.IntN(3) == 0 {
		b.WriteByte('0')
	} else {
		digits(1+rng.IntN(25), true)
	}
	if rng.IntN(2) == 0 {
		b.WriteByte('.')
		if rng.IntN(4) == 0 {
			b.WriteString(strings.Repeat("0", rng.IntN(12)))
		}
		digits(1+rng.IntN(25), false)
	}
	if rng.IntN(3) == 0 {
		b.WriteString([]string{"e", "E", "e+", "e-", "E-"}[rng.IntN(5)])
		b.WriteString(strconv.Itoa(rng.IntN(60)))
	}
	return b.String()
}

// TestFloatMatchesStrconv checks the fast float path against strconv.
func TestFloatMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(text string) {
		for _, dt := range []tensor.DataType{tensor.FP32, tensor.FP64} {
			s := scanner{buf: []byte(text)}
			n, err := s.scanNumber()
			if err != nil || s.pos != len(text) {
				t.Fatalf("scanNumber(%q) = pos %d, %v", text, s.pos, err)
			}
			bits := 64
			if dt == tensor.FP32 {
				bits = 32
			}
			want, werr := strconv.ParseFloat(text, bits)
			got, ok := n.float(dt)
			if ok != (werr == nil) || math.Float64bits(got) != math.Float64bits(want) && ok {
				t.Fatalf("%s float(%q) = %v, %v; strconv gives %v, %v", dt, text, got, ok, want, werr)
			}
		}
	}
	for _, text := range []string{"0", "-0", "0.1", "16777217", "16777216.5", "33554435", "3.4028235e38", "3.4028236e38",
		"1.17549435e-38", "1.1754942e-38", "9007199254740993", "0.123456789", "1e22", "1e23", "123456789e-22"} {
		check(text)
	}
	for range 300000 {
		check(randomNumber(rng))
	}
	// Decimals exactly halfway between two float32 values.
	for range 100000 {
		m := uint64(rng.Uint32()>>8 | 1<<23)
		half := float64(m)*2 + 1 // (2m+1) / 2^k: a float32 midpoint
		e := rng.IntN(20)
		text := strconv.FormatFloat(math.Ldexp(half, e-1), 'f', -1, 64)
		check(text)
	}
}

// TestIntegersMatchStrconv checks integer element parsing against strconv.
func TestIntegersMatchStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		var text string
		switch rng.IntN(3) {
		case 0:
			text = strconv.FormatInt(int64(rng.Uint64()), 10)
		case 1:
			text = strconv.FormatUint(rng.Uint64(), 10)
		default:
			text = strconv.FormatInt(rng.Int64N(1000)-500, 10)
		}
		if rng.IntN(10) == 0 {
			text += strconv.Itoa(rng.IntN(10)) // beyond 64 bits, usually
		}
		s := scanner{buf: []byte(text)}
		n, err := s.scanNumber()
		if err != nil {
			t.Fatalf("scanNumber(%q): %v", text, err)
		}
		if s.pos != len(text) { // "0" followed by a digit: not JSON
			continue
		}
		for _, dt := range []tensor.DataType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64} {
			want, werr := strconv.ParseInt(text, 10, 8*dt.Size())
			got, err := n.signed(dt)
			if (err == nil) != (werr == nil) || err == nil && got != want {
				t.Fatalf("%s signed(%q) = %d, %v; strconv gives %d, %v", dt, text, got, err, want, werr)
			}
		}
		for _, dt := range []tensor.DataType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64} {
			want, werr := strconv.ParseUint(text, 10, 8*dt.Size())
			got, err := n.unsigned(dt)
			if (err == nil) != (werr == nil) || err == nil && got != want {
				t.Fatalf("%s unsigned(%q) = %d, %v; strconv gives %d, %v", dt, text, got, err, want, werr)
			}
		}
	}
}
