package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Tolerance bounds the difference of one value: |got − want| ≤ Abs + Rel·|want|.
// The zero Tolerance asks for equal values.
type Tolerance struct {
	Abs, Rel float64
}

// String gives the bound as "exact" or "1e-06 + 2e-05·|cpu|".
func (t Tolerance) String() string {
	if t.Abs == 0 && t.Rel == 0 {
		return "exact"
	}
	return fmt.Sprintf("%g + %g·|cpu|", t.Abs, t.Rel)
}

// Compare measures got against want value by value: maxAbs is the largest
// |got − want| and bad the count of values outside tol (or all of them when
// the lengths differ). NaN equals NaN and an infinity equals itself (a
// difference of 0); NaN against a number, or infinities of opposite sign,
// count as bad with a difference of +Inf.
func Compare(got, want []float32, tol Tolerance) (maxAbs float64, bad int) {
	if len(got) != len(want) {
		return math.Inf(1), max(len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		var d float64
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) != math.IsNaN(w) {
				d = math.Inf(1)
			}
		case g == w:
			// also equal infinities, whose difference would be NaN
		default:
			d = math.Abs(g - w)
		}
		if d > maxAbs {
			maxAbs = d
		}
		if d != 0 && (math.IsInf(d, 1) || d > tol.Abs+tol.Rel*math.Abs(w)) {
			bad++
		}
	}
	return maxAbs, bad
}

// Comparison is one kernel run on a GPU compared with its CPU twin on the
// same input.
type Comparison struct {
	// Kernel names the kernel and the input, e.g. "softmax 3×1000".
	Kernel string
	// MaxAbs is the largest |gpu − cpu| over every output value.
	MaxAbs float64
	// Bad counts the values outside Tolerance.
	Bad       int
	Tolerance Tolerance
	// Err is set when either side failed or the output shapes differ.
	Err error
}

// OK reports whether the kernel ran and every value is within tolerance.
func (c Comparison) OK() bool { return c.Err == nil && c.Bad == 0 }

// Tolerances of SelfTest. Normalize and top-k must agree exactly: the CUDA
// normalisation rounds each step as the CPU does, and top-k only compares
// and copies. Softmax and L2 sum a row in a different order on the GPU, so
// they get the bound the CPU kernels meet against the float64 reference.
var (
	TolExact = Tolerance{}
	TolSum   = Tolerance{Abs: 1e-6, Rel: 2e-5}
)

// SelfTest runs each kernel of g on device dev and its CPU twin on the same
// pseudo-random input (from seed) and compares the results: normalisation of
// two odd-sized images, softmax and L2 over rows longer than a CUDA block,
// top-k with k = 5 and k = 32 on rows with many ties.
func SelfTest(g GPUKernels, dev int, seed uint64) []Comparison {
	rng := rand.New(rand.NewPCG(seed, 0x7a0))
	var out []Comparison
	add := func(name string, tol Tolerance, run func() (gpu, cpu []float32, err error)) {
		c := Comparison{Kernel: name, Tolerance: tol}
		gpu, cpu, err := run()
		if err != nil {
			c.Err, c.MaxAbs = err, math.Inf(1)
		} else {
			c.MaxAbs, c.Bad = Compare(gpu, cpu, tol)
		}
		out = append(out, c)
	}

	const n, h, w, ch = 2, 37, 53, 3
	pix := make([]uint8, n*h*w*ch)
	for i := range pix {
		pix[i] = uint8(rng.UintN(256))
	}
	np := NormParams{Scale: 1.0 / 255, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	add(fmt.Sprintf("normalize %d×%d×%d×%d", n, h, w, ch), TolExact, func() ([]float32, []float32, error) {
		shape := []int{n, h, w, ch}
		want, ws, err := Normalize(pix, shape, np)
		if err != nil {
			return nil, nil, fmt.Errorf("cpu: %w", err)
		}
		got, gs, err := g.Normalize(dev, pix, shape, np)
		if err != nil {
			return nil, nil, fmt.Errorf("gpu: %w", err)
		}
		return got, want, sameShape(gs, ws)
	})

	randRows := func(rows, cols int, spread float64) []float32 {
		x := make([]float32, rows*cols)
		for i := range x {
			x[i] = float32(spread * rng.NormFloat64())
		}
		return x
	}
	rowCase := func(name string, tol Tolerance, x []float32, shape []int,
		cpu func([]float32, []int) ([]float32, error), gpu func(int, []float32, []int) ([]float32, error)) {
		add(fmt.Sprintf("%s %d×%d", name, shape[0], shape[1]), tol, func() ([]float32, []float32, error) {
			want, err := cpu(x, shape)
			if err != nil {
				return nil, nil, fmt.Errorf("cpu: %w", err)
			}
			got, err := gpu(dev, x, shape)
			if err != nil {
				return nil, nil, fmt.Errorf("gpu: %w", err)
			}
			return got, want, nil
		})
	}
	rowCase("softmax", TolSum, randRows(3, 1000, 10), []int{3, 1000}, Softmax, g.Softmax)
	rowCase("l2-normalize", TolSum, randRows(5, 768, 1), []int{5, 768},
		func(x []float32, s []int) ([]float32, error) { return L2Normalize(x, s, DefaultL2Epsilon) },
		func(d int, x []float32, s []int) ([]float32, error) { return g.L2Normalize(d, x, s, DefaultL2Epsilon) })

	for _, k := range []int{5, 32} {
		// Values on a grid of 0.5 give many ties, which must go to the
		// lower index on both sides; one NaN ranks first.
		const rows, cols = 4, 1000
		x := randRows(rows, cols, 4)
		for i := range x {
			x[i] = float32(math.Round(float64(x[i])*2) / 2)
		}
		x[cols+17] = float32(math.NaN())
		shape := []int{rows, cols}
		add(fmt.Sprintf("top-k k=%d %d×%d (values and indices)", k, rows, cols), TolExact, func() ([]float32, []float32, error) {
			wv, wi, ws, err := TopK(x, shape, k)
			if err != nil {
				return nil, nil, fmt.Errorf("cpu: %w", err)
			}
			gv, gi, gs, err := g.TopK(dev, x, shape, k)
			if err != nil {
				return nil, nil, fmt.Errorf("gpu: %w", err)
			}
			return append(gv, intsToFloats(gi)...), append(wv, intsToFloats(wi)...), sameShape(gs, ws)
		})
	}
	return out
}

func sameShape(got, want []int) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%w: gpu shape %v, cpu shape %v", ErrShape, got, want)
	}
	return nil
}

// intsToFloats converts indices for Compare (exact below 2^24).
func intsToFloats(v []int) []float32 {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}
