package api

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeBoth decodes body with and without the fast path of "data" arrays
// and fails unless both give the same request or the same error.
func decodeBoth(t testing.TB, body []byte, headerLen int) (*InferRequest, error) {
	t.Helper()
	got, err := decodeInferRequest(body, headerLen, false)
	want, wantErr := decodeInferRequest(body, headerLen, true)
	switch {
	case (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error():
		t.Fatalf("body %.300q: fast path gives error %v, general code %v", body, err, wantErr)
	case err == nil:
		if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
			t.Fatalf("body %.300q: fast path differs (-general +fast):\n%s", body, diff)
		}
	}
	return got, err
}

// dataBody returns a request with one input of datatype dt whose "data" is
// the JSON array of elems, joined with sep.
func dataBody(dt string, elems []string, sep string) []byte {
	return []byte(fmt.Sprintf(`{"inputs":[{"name":"x","datatype":%q,"shape":[%d],"data":[%s]}]}`,
		dt, len(elems), strings.Join(elems, sep)))
}

// randomFloat32 returns a float32 from a mix of distributions: the values
// clients send, every exponent, subnormals, extremes and integers.
func randomFloat32(rng *rand.Rand) float32 {
	var f float32
	switch rng.IntN(8) {
	case 0, 1:
		f = float32(rng.Float64()*2 - 1)
	case 2: // any finite value
		for f = math.Float32frombits(rng.Uint32()); math.IsNaN(float64(f)) || math.IsInf(float64(f), 0); {
			f = math.Float32frombits(rng.Uint32())
		}
	case 3: // subnormal or the smallest normals
		f = math.Float32frombits(rng.Uint32N(1 << 24))
	case 4: // near the largest
		f = math.Float32frombits(0x7f7fffff - rng.Uint32N(1<<12))
	case 5:
		f = float32(rng.IntN(1 << 25))
	case 6:
		f = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
	default:
		f = 0
	}
	if rng.IntN(2) == 0 {
		f = -f
	}
	return f
}

// formatFloat32 writes f in one of the ways clients do.
func formatFloat32(rng *rand.Rand, f float32) string {
	x := float64(f)
	switch rng.IntN(11) {
	case 0:
		return strconv.FormatFloat(x, 'g', -1, 32)
	case 1:
		return strconv.FormatFloat(x, 'f', 9, 64)
	case 2:
		return strconv.FormatFloat(x, 'f', 12, 64)
	case 3:
		return strconv.FormatFloat(x, 'e', 7, 64)
	case 4:
		return strings.ToUpper(strconv.FormatFloat(x, 'e', 12, 64))
	case 5: // Python's repr of a float32 widened to float64
		return strconv.FormatFloat(x, 'g', -1, 64)
	case 6: // 25 significant digits
		return strconv.FormatFloat(x, 'e', 24, 64)
	case 7:
		return strconv.FormatFloat(x, 'f', -1, 32)
	case 8: // an integer, maybe written as a float
		s := strconv.FormatFloat(math.Trunc(x), 'f', -1, 64)
		if rng.IntN(2) == 0 {
			s += ".0"
		}
		return s
	case 9: // exponent without fraction, with an explicit sign
		s := strconv.FormatFloat(x, 'e', -1, 32)
		if m, e, ok := strings.Cut(s, "e"); ok && !strings.Contains(m, ".") {
			return m + "E" + e
		}
		return s
	}
	return strconv.FormatFloat(x, 'e', rng.IntN(18), 64)
}

var separators = []string{",", ",", ",", ", ", ",\n  ", " , ", "\t,\r\n"}

// TestFastDataFloatsExact checks 200 000 numbers in one "data" array,
// decoded as FP32 and as FP64, bit for bit against strconv.ParseFloat.
func TestFastDataFloatsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 200000
	elems := make([]string, n)
	for i := range elems {
		elems[i] = formatFloat32(rng, randomFloat32(rng))
		if _, err := strconv.ParseFloat(elems[i], 32); err != nil { // rounds beyond float32
			elems[i] = "0.5"
		}
	}
	for _, sep := range []string{",", separators[rng.IntN(len(separators))]} {
		for _, dt := range []string{"FP32", "FP64"} {
			body := dataBody(dt, elems, sep)
			req, err := DecodeInferRequest(body, -1)
			if err != nil {
				t.Fatalf("%s, separator %q: %v", dt, sep, err)
			}
			data := req.Inputs[0].Data
			for i, s := range elems {
				var got, want uint64
				if dt == "FP32" {
					f, _ := strconv.ParseFloat(s, 32)
					want, got = uint64(math.Float32bits(float32(f))), uint64(binary.LittleEndian.Uint32(data[4*i:]))
				} else {
					f, _ := strconv.ParseFloat(s, 64)
					want, got = math.Float64bits(f), binary.LittleEndian.Uint64(data[8*i:])
				}
				if got != want {
					t.Fatalf("%s element %d %q: got bits %#x, want %#x (strconv)", dt, i, s, got, want)
				}
			}
		}
	}
}

// TestFastDataDoubleRounding checks decimals that lie just off a midpoint
// between two float32 values but round to that midpoint as a float64, so that
// rounding through float64 would pick the wrong float32 half the time.
func TestFastDataDoubleRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var elems []string
	for len(elems) < 20000 {
		// A midpoint m between adjacent float32 values in the normal range.
		a := math.Float32frombits(uint32(rng.IntN(253)+1)<<23 | rng.Uint32N(1<<23))
		b := math.Nextafter32(a, float32(math.Inf(1)))
		m := (float64(a) + float64(b)) / 2
		// The shortest decimal that reads back as m has at most 17 digits
		// and is usually not m itself but on either side of it; also take
		// decimals just above and below m with many digits.
		exact := new(big.Rat).SetFloat64(m)
		tiny := new(big.Rat).SetFrac64(1, 1)
		tiny.Mul(tiny, new(big.Rat).SetFloat64(math.Ldexp(m, -60)))
		above := new(big.Rat).Add(exact, tiny)
		below := new(big.Rat).Sub(exact, tiny)
		fa, _ := above.Float64()
		elems = append(elems,
			strconv.FormatFloat(m, 'g', -1, 64),
			strconv.FormatFloat(m, 'e', 16, 64),
			strconv.FormatFloat(m, 'e', 15, 64),
			above.FloatString(70-int(math.Log10(fa))),
			below.FloatString(70-int(math.Log10(fa))),
		)
	}
	traps := 0
	for _, s := range elems {
		f64, _ := strconv.ParseFloat(s, 64)
		f32, _ := strconv.ParseFloat(s, 32)
		if float32(f64) != float32(f32) {
			traps++
		}
	}
	if traps < len(elems)/10 {
		t.Fatalf("only %d of %d decimals double-round; the test is broken", traps, len(elems))
	}
	body := dataBody("FP32", elems, ",")
	req, err := decodeBoth(t, body, -1)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range elems {
		want, _ := strconv.ParseFloat(s, 32)
		if got := math.Float32frombits(binary.LittleEndian.Uint32(req.Inputs[0].Data[4*i:])); got != float32(want) {
			t.Fatalf("element %d %q: got %v, want %v (strconv)", i, s, got, float32(want))
		}
	}
}

// TestFastDataIntegers checks integer elements of every integer type
// against strconv, with the general code for the errors.
func TestFastDataIntegers(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	types := []struct {
		dt     string
		bits   int
		signed bool
	}{{"INT8", 8, true}, {"INT16", 16, true}, {"INT32", 32, true}, {"INT64", 64, true},
		{"UINT8", 8, false}, {"UINT16", 16, false}, {"UINT32", 32, false}, {"UINT64", 64, false}}
	for _, tc := range types {
		var elems []string
		for range 10000 {
			var s string
			switch rng.IntN(6) {
			case 0:
				s = strconv.FormatInt(int64(rng.Uint64())>>(64-tc.bits), 10)
			case 1:
				s = strconv.FormatUint(rng.Uint64()>>(64-tc.bits), 10)
			case 2:
				s = strconv.FormatInt(rng.Int64N(2000)-1000, 10)
			case 3:
				s = strconv.FormatInt(int64(rng.Uint64())>>rng.IntN(64), 10)
			case 4:
				s = []string{"-0", "0", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
					"127", "-128", "255", "32767", "-32768", "65535", "2147483647", "-2147483648", "4294967295",
					"123456789012345", "-123456789012345", "1234567890123456", "9007199254740993"}[rng.IntN(18)]
			default:
				s = strconv.FormatUint(rng.Uint64N(1<<uint(rng.IntN(tc.bits))), 10)
			}
			elems = append(elems, s)
		}
		// Keep the values in range; out-of-range ones are checked below.
		var valid []string
		for _, s := range elems {
			var err error
			if tc.signed {
				_, err = strconv.ParseInt(s, 10, tc.bits)
			} else if s != "-0" { // -0 is 0
				_, err = strconv.ParseUint(s, 10, tc.bits)
			}
			if err == nil {
				valid = append(valid, s)
			} else if rng.IntN(200) == 0 {
				body := dataBody(tc.dt, []string{"1", s, "2"}, ",")
				if _, err := decodeBoth(t, body, -1); err == nil {
					t.Fatalf("%s %s: got no error", tc.dt, s)
				}
			}
		}
		req, err := decodeBoth(t, dataBody(tc.dt, valid, separators[rng.IntN(len(separators))]), -1)
		if err != nil {
			t.Fatalf("%s: %v", tc.dt, err)
		}
		data, size := req.Inputs[0].Data, tc.bits/8
		for i, s := range valid {
			var want uint64
			if tc.signed {
				v, _ := strconv.ParseInt(s, 10, tc.bits)
				want = uint64(v)
			} else {
				want, _ = strconv.ParseUint(strings.TrimPrefix(s, "-"), 10, tc.bits)
			}
			var got uint64
			for k := range size {
				got |= uint64(data[i*size+k]) << (8 * k)
			}
			if want &= ^uint64(0) >> (64 - tc.bits); got != want {
				t.Fatalf("%s element %d %q: got %#x, want %#x", tc.dt, i, s, got, want)
			}
		}
	}
}

// fastDataTokens are the pieces TestFastDataMatchesGeneral builds "data"
// arrays from: numbers the fast path takes, numbers it leaves to the general
// code, and malformed input.
var fastDataTokens = []string{
	"0", "-0", "1", "-7", "0.5", "-0.125", "123.456", "1e3", "1E-3", "-2.5e+2", "0.000001",
	"3.4028235e38", "3.4028236e38", "1e-40", "1e39", "-1e-46", "1.17549435e-38",
	"9007199254740993", "18446744073709551615", "-9223372036854775808", "1234567890123456789012",
	"0.1234567890123456789", "12345678.123456789", "12345678901.5", "1.5e300", "1e-400",
	"0.123456789", "-0.43297595", "0.123456789012345", "-0.1234567890123456", "0.12345678e-3",
	"12345.123456789", "1234567890.1234567", "0.000000001234567", "9.99999999999999999", "0.12345678901234567e5",
	"1e0001", "-2.5E-0010", "1e12345", "0e-99999", "300", "-129", "65536", "2147483648", "4294967296", "1.0", "2.5", "1e2", "1e20",
	`"NaN"`, `"Infinity"`, `"-Infinity"`, `"nan"`, `"\u004EaN"`, "true", "null", `"1"`,
	"1.", "-", "-a", "1e", "1e+", "01", "-01", "0x10", "+1", ".5", "1.e5", "1e5.", "--1", "1ee2",
	"[", "]", "[]", "[1,2]", "[[3]]", ",", " ", "\n", "\t", "\r", "}", "x", "\x00", "\xff",
}

// TestFastDataMatchesGeneral decodes random "data" arrays of every numeric
// type, valid and not, whole and cut off, with and without the fast path,
// and checks that both give the same result or the same error.
func TestFastDataMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	dts := []string{"FP32", "FP64", "FP16", "BF16", "INT8", "INT16", "INT32", "INT64",
		"UINT8", "UINT16", "UINT32", "UINT64", "BOOL", "BYTES"}
	for iter := range 10000 {
		var b strings.Builder
		b.WriteByte('[')
		n := rng.IntN(40)
		if iter%10 == 0 {
			n = rng.IntN(2000)
		}
		for i := range n {
			if i > 0 {
				b.WriteString(separators[rng.IntN(len(separators))])
			}
			switch r := rng.IntN(20); {
			case r == 0:
				b.WriteString(fastDataTokens[rng.IntN(len(fastDataTokens))])
			case r < 8:
				b.WriteString(formatFloat32(rng, randomFloat32(rng)))
			case r < 12:
				b.WriteString(randomNumber(rng))
			case r < 14:
				b.WriteString("[" + strconv.Itoa(rng.IntN(1000)-500) + "," + strconv.Itoa(rng.IntN(100)) + "]")
			default:
				b.WriteString(strconv.FormatInt(rng.Int64N(1<<uint(rng.IntN(62)+1))-1<<uint(rng.IntN(62)), 10))
			}
		}
		b.WriteByte(']')
		data := b.String()
		dt := dts[rng.IntN(len(dts))]
		count := strings.Count(data, ",") + 1
		var body string
		switch rng.IntN(3) {
		case 0:
			body = input(fmt.Sprintf(`"name":"x","datatype":%q,"shape":[%d],"data":%s`, dt, count, data))
		case 1: // data first: decoded once the datatype is known
			body = input(fmt.Sprintf(`"data":%s,"name":"x","datatype":%q,"shape":[%d]`, data, dt, count))
		default: // data before the shape: no preallocation
			body = input(fmt.Sprintf(`"name":"x","datatype":%q,"data":%s,"shape":[%d]`, dt, data, count))
		}
		if rng.IntN(4) == 0 {
			body = body[:rng.IntN(len(body)+1)]
		}
		decodeBoth(t, []byte(body), -1)
	}
}

// TestFastDataNesting checks nested arrays, whitespace and the depth limit
// on the fast path.
func TestFastDataNesting(t *testing.T) {
	for _, tc := range []struct{ shape, data string }{
		{"[2,3]", "[[1,2,3],[4,5,6]]"},
		{"[2,3]", "[ [ 1 , 2 , 3 ] , [ 4 , 5 , 6 ] ]"},
		{"[2,3]", "[\n  [1.5, -2.5, 3e1],\n  [4, 5, 6]\n]"},
		{"[2,0]", "[[],[]]"},
		{"[1,1,1,2]", "[[[[0.25,0.75]]]]"},
		{"[1]", strings.Repeat("[", 128) + "1" + strings.Repeat("]", 128)},
		{"[1]", strings.Repeat("[", 129) + "1" + strings.Repeat("]", 129)},
		{"[3]", "[1,[2],3]"},
		{"[2]", "[[1]2]"},
		{"[2]", "[1,]"},
		{"[2]", "[1,,2]"},
		{"[1]", "[1,2]"}, // more elements than the buffer holds
		{"[0]", "[0.5]"},
	} {
		for _, dt := range []string{"FP32", "FP64", "INT64", "UINT8"} {
			for _, pad := range []int{0, 100} { // short bodies take the general code
				body := input(fmt.Sprintf(`"name":"x","datatype":%q,"shape":%s,"data":%s,"pad":%q`,
					dt, tc.shape, tc.data, strings.Repeat(" ", pad)))
				decodeBoth(t, []byte(body), -1)
			}
		}
	}
	// Cut off in the whitespace or brackets after a number.
	for _, tail := range []string{strings.Repeat(" ", 70), "]" + strings.Repeat(" ", 70), strings.Repeat("]", 3) + strings.Repeat("\n", 70)} {
		for _, dt := range []string{"FP32", "INT32"} {
			body := `{"inputs":[{"name":"x","datatype":"` + dt + `","shape":[2],"data":[[[[[1,` + strings.Repeat("0.5,", 20) + "2" + tail
			decodeBoth(t, []byte(body), -1)
		}
	}
}

// TestFastDataEightDigits checks digits8 and value8 against strconv.
func TestFastDataEightDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for range 100000 {
		var w [8]byte
		n := rng.IntN(9)
		for i := range w {
			if i < n {
				w[i] = byte('0' + rng.IntN(10))
			} else {
				w[i] = byte(rng.IntN(256))
			}
		}
		if n < 8 && w[n]-'0' <= 9 {
			w[n] = '.'
		}
		x, nonDigit := digits8(binary.LittleEndian.Uint64(w[:]))
		gotN := 8
		if nonDigit != 0 {
			gotN = 0
			for nonDigit&0x80 == 0 {
				nonDigit >>= 8
				gotN++
			}
		}
		if gotN != n {
			t.Fatalf("digits8(%q): %d digits, want %d", w, gotN, n)
		}
		if n == 0 {
			continue
		}
		want, _ := strconv.ParseUint(string(w[:n]), 10, 64)
		if got := value8(x << (64 - 8*uint(n))); got != want {
			t.Fatalf("value8 of %q: got %d, want %d", w[:n], got, want)
		}
	}
}
