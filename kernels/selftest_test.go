package kernels

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// cpuGPU is a GPUKernels backed by the CPU kernels, with optional faults, so
// the selftest harness (which doctor runs on real GPUs) is checked here.
type cpuGPU struct {
	devs    []int
	devErr  error
	perturb float32 // added to every softmax output
	swapIdx bool    // swaps the first two top-k indices of each row
	fail    error   // returned by L2Normalize
}

func (c cpuGPU) Devices() ([]int, error) { return c.devs, c.devErr }

func (c cpuGPU) Normalize(_ int, pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	return Normalize(pix, shape, p)
}

func (c cpuGPU) Softmax(_ int, x []float32, shape []int) ([]float32, error) {
	out, err := Softmax(x, shape)
	for i := range out {
		out[i] += c.perturb
	}
	return out, err
}

func (c cpuGPU) TopK(_ int, x []float32, shape []int, k int) ([]float32, []int, []int, error) {
	v, idx, s, err := TopK(x, shape, k)
	if c.swapIdx && err == nil {
		for r := 0; r < len(idx); r += k {
			idx[r], idx[r+1] = idx[r+1], idx[r]
		}
	}
	return v, idx, s, err
}

func (c cpuGPU) L2Normalize(_ int, x []float32, shape []int, eps float32) ([]float32, error) {
	if c.fail != nil {
		return nil, c.fail
	}
	return L2Normalize(x, shape, eps)
}

func TestSelfTestAgainstItself(t *testing.T) {
	res := SelfTest(cpuGPU{}, 0, 1)
	if len(res) != 5 {
		t.Fatalf("%d comparisons, want 5 (normalize, softmax, l2, top-k ×2): %+v", len(res), res)
	}
	for _, c := range res {
		if !c.OK() || c.MaxAbs != 0 {
			t.Errorf("%s: ok %v, max |diff| %g, bad %d, err %v; want exact agreement", c.Kernel, c.OK(), c.MaxAbs, c.Bad, c.Err)
		}
	}
	// The same seed gives the same inputs: a second run agrees with the first.
	again := SelfTest(cpuGPU{}, 0, 1)
	for i := range res {
		if res[i].Kernel != again[i].Kernel {
			t.Errorf("run 2 kernel %d = %q, want %q", i, again[i].Kernel, res[i].Kernel)
		}
	}
}

// TestSelfTestAgainstReference feeds the harness the plain-Go references as
// the "GPU": normalisation and top-k must match exactly, softmax and L2
// within TolSum.
func TestSelfTestAgainstReference(t *testing.T) {
	for _, c := range SelfTest(refGPU{}, 0, 2) {
		if !c.OK() {
			t.Errorf("%s: max |diff| %g (tolerance %s), %d bad, err %v", c.Kernel, c.MaxAbs, c.Tolerance, c.Bad, c.Err)
		}
	}
}

type refGPU struct{ cpuGPU }

func (refGPU) Normalize(_ int, pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	n, h, w, c := shape[0], shape[1], shape[2], shape[3]
	return refNormalize(pix, n, h, w, c, p), []int{n, c, h, w}, nil
}

func (refGPU) Softmax(_ int, x []float32, shape []int) ([]float32, error) {
	return refSoftmax(x, shape[len(shape)-1]), nil
}

func (refGPU) L2Normalize(_ int, x []float32, shape []int, eps float32) ([]float32, error) {
	return refL2(x, shape[len(shape)-1], eps), nil
}

func TestSelfTestCatchesFaults(t *testing.T) {
	res := SelfTest(cpuGPU{perturb: 1e-4, swapIdx: true, fail: errors.New("boom")}, 0, 3)
	got := map[string]Comparison{}
	for _, c := range res {
		got[strings.Fields(c.Kernel)[0]] = c
	}
	if c := got["softmax"]; c.OK() || c.Bad == 0 || math.Abs(c.MaxAbs-1e-4) > 1e-6 {
		t.Errorf("softmax off by 1e-4: %+v, want a failure with max |diff| ≈ 1e-4", c)
	}
	if c := got["top-k"]; c.OK() || c.Bad == 0 {
		t.Errorf("top-k with swapped indices: %+v, want a failure", c)
	}
	if c := got["l2-normalize"]; c.OK() || c.Err == nil || !strings.Contains(c.Err.Error(), "gpu: boom") {
		t.Errorf("failing l2: %+v, want the GPU's error", c)
	}
	if c := got["normalize"]; !c.OK() {
		t.Errorf("normalize: %+v, want ok", c)
	}
}

func TestCompare(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want []float32
		tol       Tolerance
		maxAbs    float64
		bad       int
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, TolExact, 0, 0},
		{"nan equals nan", []float32{nan, inf, -inf}, []float32{nan, inf, -inf}, TolExact, 0, 0},
		{"nan vs number", []float32{nan}, []float32{1}, TolSum, math.Inf(1), 1},
		{"opposite infinities", []float32{inf}, []float32{-inf}, TolSum, math.Inf(1), 1},
		{"within relative", []float32{1.00001}, []float32{1}, TolSum, float64(float32(1.00001)) - 1, 0},
		{"outside exact", []float32{1, 2.5}, []float32{1, 2}, TolExact, 0.5, 1},
		{"length", []float32{1}, []float32{1, 2}, TolSum, math.Inf(1), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, bad := Compare(tc.got, tc.want, tc.tol)
			if m != tc.maxAbs || bad != tc.bad {
				t.Errorf("Compare(%v, %v, %v) = %g, %d; want %g, %d", tc.got, tc.want, tc.tol, m, bad, tc.maxAbs, tc.bad)
			}
		})
	}
	if s := TolExact.String(); s != "exact" {
		t.Errorf("TolExact = %q", s)
	}
	if s := TolSum.String(); s != "1e-06 + 2e-05·|cpu|" {
		t.Errorf("TolSum = %q", s)
	}
}

func TestRegisterGPU(t *testing.T) {
	if GPU() != nil && !CUDA {
		t.Fatalf("GPU() = %v without the gpu tag, want nil", GPU())
	}
	defer func(old GPUKernels) { gpuKernels = old }(gpuKernels)
	gpuKernels = nil
	RegisterGPU(cpuGPU{devs: []int{0}})
	if devs, _ := GPU().Devices(); len(devs) != 1 {
		t.Errorf("registered provider devices = %v", devs)
	}
	for _, tc := range []struct {
		name string
		k    GPUKernels
	}{{"twice", cpuGPU{}}, {"nil", nil}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterGPU %s: no panic", tc.name)
				}
			}()
			gpuKernels = cpuGPU{}
			if tc.k == nil {
				gpuKernels = nil
			}
			RegisterGPU(tc.k)
		}()
	}
}
