package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tolerances for the Gorgonia kernels against the float64 references: the
// kernels work in float32 (math32.Exp, float32 sums in index order), so they
// differ from float64 arithmetic rounded once by a few float32 ulps.
const (
	tolAbs = 1e-6 // |got - want| ≤ tolAbs + tolRel·|want|
	tolRel = 2e-5
)

var (
	inf  = float32(math.Inf(1))
	nan  = float32(math.NaN())
	ninf = -inf
)

type vecCase struct {
	name  string
	shape []int
	x     []float32
}

// vecCases is the table every last-axis kernel runs on: a grid of shapes ×
// value patterns, a few random shapes, and the given special rows.
func vecCases(specials ...vecCase) []vecCase {
	shapes := [][]int{{1}, {7}, {1, 1}, {3, 1}, {2, 3}, {4, 10}, {2, 3, 5}, {16, 1000}, {8, 768}, {1, 64, 5}}
	gens := []struct {
		name string
		f    func(r *rand.Rand, i int) float32
	}{
		{"ramp", func(_ *rand.Rand, i int) float32 { return float32(i%13)*0.25 - 1.5 }},
		{"normal", func(r *rand.Rand, _ int) float32 { return float32(r.NormFloat64() * 3) }},
		{"large", func(r *rand.Rand, _ int) float32 { return float32(r.Float64()*2e4 - 1e4) }},
		{"ties", func(r *rand.Rand, _ int) float32 { return float32(r.IntN(4) - 1) }},
	}
	r := rand.New(rand.NewPCG(1, 2))
	var cs []vecCase
	for _, s := range shapes {
		for _, g := range gens {
			x := make([]float32, prod(s))
			for i := range x {
				x[i] = g.f(r, i)
			}
			cs = append(cs, vecCase{fmt.Sprintf("%v/%s", s, g.name), s, x})
		}
	}
	for i := 0; i < 6; i++ {
		s := make([]int, 1+r.IntN(3))
		for j := range s {
			s[j] = 1 + r.IntN(40)
		}
		x := make([]float32, prod(s))
		for j := range x {
			x[j] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-2)))
		}
		cs = append(cs, vecCase{fmt.Sprintf("random%d%v", i, s), s, x})
	}
	return append(cs, specials...)
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func row(xs ...float32) vecCase {
	return vecCase{fmt.Sprint(xs), []int{len(xs)}, xs}
}

// closeTo reports the first index where got and want differ by more than the
// tolerance (NaN must meet NaN) and the largest absolute difference.
func closeTo(got, want []float32, abs, rel float64) (bad int, maxDiff float64) {
	bad = -1
	if len(got) != len(want) {
		return 0, math.Inf(1)
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsNaN(w) {
			if math.IsNaN(g) != math.IsNaN(w) && bad < 0 {
				bad = i
			}
			continue
		}
		if g == w {
			continue
		}
		d := math.Abs(g - w)
		maxDiff = math.Max(maxDiff, d)
		if (d > abs+rel*math.Abs(w) || math.IsInf(d, 0)) && bad < 0 {
			bad = i
		}
	}
	return bad, maxDiff
}

func checkClose(t *testing.T, c vecCase, got, want []float32) float64 {
	t.Helper()
	bad, d := closeTo(got, want, tolAbs, tolRel)
	if bad >= 0 {
		t.Fatalf("shape %v: [%d] got %v, want %v (input %v)", c.shape, bad, got[bad], want[bad], c.x[bad])
	}
	return d
}

func TestSoftmax(t *testing.T) {
	var worst float64
	for _, c := range vecCases(row(1000, 0, -1000), row(ninf, 0, 1), row(ninf, ninf), row(inf, 1),
		row(nan, 1), row(3e38, -3e38), row(88, 89, 90), row(-104, -103)) {
		t.Run(c.name, func(t *testing.T) {
			got, err := Softmax(c.x, c.shape)
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, checkClose(t, c, got, refSoftmax(c.x, c.shape[len(c.shape)-1])))
		})
	}
	t.Logf("max |gorgonia - reference| = %.3g", worst)
}

func TestSigmoid(t *testing.T) {
	var worst float64
	for _, c := range vecCases(row(0, 1e-8, -1e-8, 20, -20, 88, -88, 100, -100, 3e38, -3e38, inf, ninf, nan)) {
		t.Run(c.name, func(t *testing.T) {
			got, err := Sigmoid(c.x, c.shape)
			if err != nil {
				t.Fatal(err)
			}
			worst = math.Max(worst, checkClose(t, c, got, refSigmoid(c.x)))
		})
	}
	t.Logf("max |gorgonia - reference| = %.3g", worst)
}

func TestArgmax(t *testing.T) {
	for _, c := range vecCases(row(2, 5, 5, 1), row(ninf, ninf), row(1, inf, inf), row(1, nan, 3), row(1, inf, nan)) {
		t.Run(c.name, func(t *testing.T) {
			got, shape, err := Argmax(c.x, c.shape)
			if err != nil {
				t.Fatal(err)
			}
			want := refArgmax(c.x, c.shape[len(c.shape)-1])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("shape %v: got %v, want %v", c.shape, got, want)
			}
			if prod(shape) != len(want) {
				t.Fatalf("result shape %v for %d indices", shape, len(want))
			}
		})
	}
}

func TestTopK(t *testing.T) {
	for _, c := range vecCases(row(2, 5, 5, 1, 5), row(ninf, ninf, 0), row(1, nan, 3, nan), row(1, inf, nan), row(0, 0, 0, 0)) {
		cols := c.shape[len(c.shape)-1]
		for _, k := range []int{1, 2, 5, cols} {
			if k > cols {
				continue
			}
			t.Run(fmt.Sprintf("%s/k=%d", c.name, k), func(t *testing.T) {
				vals, idx, shape, err := TopK(c.x, c.shape, k)
				if err != nil {
					t.Fatal(err)
				}
				wantV, wantI := refTopK(c.x, cols, k)
				if fmt.Sprint(idx) != fmt.Sprint(wantI) || fmt.Sprint(vals) != fmt.Sprint(wantV) {
					t.Fatalf("shape %v: got %v %v, want %v %v", c.shape, vals, idx, wantV, wantI)
				}
				if prod(shape) != len(wantI) || shape[len(shape)-1] != k {
					t.Fatalf("result shape %v", shape)
				}
			})
		}
	}
}

func TestL2Normalize(t *testing.T) {
	var worst float64
	for _, c := range vecCases(row(0, 0, 0), row(3, 4), row(1e-13, 0), row(-2), row(1e18, 1e18), row(nan, 1)) {
		for _, eps := range []float32{DefaultL2Epsilon, 0.5} {
			t.Run(fmt.Sprintf("%s/eps=%g", c.name, eps), func(t *testing.T) {
				got, err := L2Normalize(c.x, c.shape, eps)
				if err != nil {
					t.Fatal(err)
				}
				worst = math.Max(worst, checkClose(t, c, got, refL2(c.x, c.shape[len(c.shape)-1], eps)))
			})
		}
	}
	t.Logf("max |gorgonia - reference| = %.3g", worst)
}

func TestClamp(t *testing.T) {
	for _, c := range vecCases(row(inf, ninf, nan, 0, -0.5, 0.5, 2)) {
		for _, b := range [][2]float32{{0, 1}, {-1, 1}, {-1e3, 1e3}, {0.5, 0.5}} {
			t.Run(fmt.Sprintf("%s/%v", c.name, b), func(t *testing.T) {
				got, err := Clamp(c.x, c.shape, b[0], b[1])
				if err != nil {
					t.Fatal(err)
				}
				if bad, _ := closeTo(got, refClamp(c.x, b[0], b[1]), 0, 0); bad >= 0 {
					t.Fatalf("[%d] got %v for %v", bad, got[bad], c.x[bad])
				}
			})
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range vecCases() {
		cols := c.shape[len(c.shape)-1]
		for _, n := range []int{1, (cols + 1) / 2, cols} {
			t.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(t *testing.T) {
				got, shape, err := Truncate(c.x, c.shape, n)
				if err != nil {
					t.Fatal(err)
				}
				if bad, _ := closeTo(got, refTruncate(c.x, cols, n), 0, 0); bad >= 0 || prod(shape) != len(got) {
					t.Fatalf("shape %v n=%d: got %v (shape %v)", c.shape, n, got, shape)
				}
			})
		}
	}
}

func TestNormalize(t *testing.T) {
	params := map[string]NormParams{
		"imagenet": {Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
		"clip":     {Scale: 1.0 / 255, Mean: []float32{0.48145466, 0.4578275, 0.40821073}, Std: []float32{0.26862954, 0.26130258, 0.27577711}},
		"half":     {Scale: 1.0 / 255, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}},
		"raw":      {Scale: 1, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}},
	}
	shapes := [][]int{{1, 1, 1, 3}, {1, 2, 3, 3}, {2, 5, 7, 3}, {3, 16, 9, 3}, {1, 37, 23, 3}}
	r := rand.New(rand.NewPCG(3, 4))
	for pn, p := range params {
		for _, s := range shapes {
			pix := make([]uint8, prod(s))
			for i := range pix {
				pix[i] = uint8(r.IntN(256))
			}
			pix[0], pix[len(pix)-1] = 0, 255
			t.Run(fmt.Sprintf("%s/%v", pn, s), func(t *testing.T) {
				got, shape, err := Normalize(pix, s, p)
				if err != nil {
					t.Fatal(err)
				}
				if want := []int{s[0], s[3], s[1], s[2]}; fmt.Sprint(shape) != fmt.Sprint(want) {
					t.Fatalf("shape %v, want %v", shape, want)
				}
				want := refNormalize(pix, s[0], s[1], s[2], s[3], p)
				if i := firstBitDiff(got, want); i >= 0 {
					t.Fatalf("[%d] got %v, want %v (bit-identical expected)", i, got[i], want[i])
				}
			})
		}
	}
	t.Run("gray", func(t *testing.T) {
		pix := []uint8{0, 10, 20, 30, 40, 50}
		p := NormParams{Scale: 1, Mean: []float32{10}, Std: []float32{2}}
		got, _, err := Normalize(pix, []int{2, 1, 3, 1}, p)
		if err != nil {
			t.Fatal(err)
		}
		if want := refNormalize(pix, 2, 1, 3, 1, p); firstBitDiff(got, want) >= 0 {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
}

func firstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestBatchInvariance checks that an item's result is bit-identical whether it
// runs alone or at some position inside a batch of 64 other items.
func TestBatchInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	randItem := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
		}
		return x
	}
	kernels := map[string]func(x []float32, shape []int) ([]float32, error){
		"softmax": Softmax,
		"sigmoid": Sigmoid,
		"l2":      func(x []float32, s []int) ([]float32, error) { return L2Normalize(x, s, DefaultL2Epsilon) },
		"clamp":   func(x []float32, s []int) ([]float32, error) { return Clamp(x, s, -1, 1) },
		"truncate": func(x []float32, s []int) ([]float32, error) {
			y, _, err := Truncate(x, s, s[len(s)-1]/2+1)
			return y, err
		},
		"argmax": func(x []float32, s []int) ([]float32, error) {
			idx, _, err := Argmax(x, s)
			return intsAsFloats(idx), err
		},
		"top5": func(x []float32, s []int) ([]float32, error) {
			v, idx, _, err := TopK(x, s, 5)
			return append(v, intsAsFloats(idx)...), err
		},
	}
	for name, f := range kernels {
		for _, item := range [][]int{{1000}, {768}, {3, 7}} {
			t.Run(fmt.Sprintf("%s/%v", name, item), func(t *testing.T) {
				one := randItem(prod(item))
				const batch, at = 64, 17
				var xs []float32
				for i := 0; i < batch; i++ {
					if i == at {
						xs = append(xs, one...)
					} else {
						xs = append(xs, randItem(len(one))...)
					}
				}
				alone, err := f(one, append([]int{1}, item...))
				if err != nil {
					t.Fatal(err)
				}
				all, err := f(xs, append([]int{batch}, item...))
				if err != nil {
					t.Fatal(err)
				}
				if name == "top5" {
					// values then indices: pick the item's k values and k indices.
					k := len(alone) / 2
					n := len(all) / 2
					part := append(append([]float32(nil), all[at*k:(at+1)*k]...), all[n+at*k:n+(at+1)*k]...)
					all = part
				} else {
					per := len(all) / batch
					all = all[at*per : (at+1)*per]
				}
				if i := firstBitDiff(alone, all); i >= 0 {
					t.Fatalf("[%d] alone %v, in batch %v", i, alone[i], all[i])
				}
			})
		}
	}
	t.Run("normalize", func(t *testing.T) {
		p := NormParams{Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
		img := make([]uint8, 9*5*3)
		var all []uint8
		for i := range img {
			img[i] = uint8(r.IntN(256))
		}
		const batch, at = 64, 40
		for i := 0; i < batch; i++ {
			if i == at {
				all = append(all, img...)
				continue
			}
			for range img {
				all = append(all, uint8(r.IntN(256)))
			}
		}
		alone, _, err := Normalize(img, []int{1, 9, 5, 3}, p)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Normalize(all, []int{batch, 9, 5, 3}, p)
		if err != nil {
			t.Fatal(err)
		}
		if i := firstBitDiff(alone, got[at*len(img):(at+1)*len(img)]); i >= 0 {
			t.Fatalf("[%d] differs", i)
		}
	})
}

func intsAsFloats(v []int) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestErrors(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"softmax short shape", second(Softmax(x, []int{2, 2})), ErrShape},
		{"softmax empty shape", second(Softmax(x, nil)), ErrShape},
		{"softmax zero dim", second(Softmax(nil, []int{0, 3})), ErrShape},
		{"sigmoid shape", second(Sigmoid(x, []int{7})), ErrShape},
		{"topk k=0", fourth(TopK(x, []int{2, 3}, 0)), ErrArgument},
		{"topk k>cols", fourth(TopK(x, []int{2, 3}, 4)), ErrArgument},
		{"argmax shape", third(Argmax(x, []int{4})), ErrShape},
		{"l2 eps", second(L2Normalize(x, []int{6}, -1)), ErrArgument},
		{"l2 eps nan", second(L2Normalize(x, []int{6}, nan)), ErrArgument},
		{"clamp lo>hi", second(Clamp(x, []int{6}, 1, 0)), ErrArgument},
		{"truncate 0", third(Truncate(x, []int{2, 3}, 0)), ErrArgument},
		{"truncate wide", third(Truncate(x, []int{2, 3}, 4)), ErrArgument},
		{"normalize 3d", third(Normalize(make([]uint8, 6), []int{1, 2, 3}, NormParams{})), ErrShape},
		{"normalize channels", third(Normalize(make([]uint8, 6), []int{1, 1, 2, 3}, NormParams{Scale: 1, Mean: []float32{0}, Std: []float32{1}})), ErrArgument},
		{"normalize std 0", third(Normalize(make([]uint8, 3), []int{1, 1, 1, 3}, NormParams{Scale: 1, Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}})), ErrArgument},
		{"normalize length", third(Normalize(make([]uint8, 5), []int{1, 1, 2, 3}, NormParams{Scale: 1, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}})), ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("got error %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func second[A any](_ A, err error) error                 { return err }
func third[A, B any](_ A, _ B, err error) error          { return err }
func fourth[A, B, C any](_ A, _ B, _ C, err error) error { return err }
