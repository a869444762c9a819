package doctor

import (
	"errors"
	"strings"
	"testing"

	"github.com/taominer/taominer/kernels"
)

// cpuKernels stands in for the CUDA kernels: the CPU kernels on fake devices.
type cpuKernels struct {
	devs []int
	err  error
	off  float32 // added to softmax outputs
}

func (c cpuKernels) Devices() ([]int, error) { return c.devs, c.err }
func (c cpuKernels) Normalize(_ int, pix []uint8, shape []int, p kernels.NormParams) ([]float32, []int, error) {
	return kernels.Normalize(pix, shape, p)
}
func (c cpuKernels) Softmax(_ int, x []float32, shape []int) ([]float32, error) {
	out, err := kernels.Softmax(x, shape)
	for i := range out {
		out[i] += c.off
	}
	return out, err
}
func (c cpuKernels) TopK(_ int, x []float32, shape []int, k int) ([]float32, []int, []int, error) {
	return kernels.TopK(x, shape, k)
}
func (c cpuKernels) L2Normalize(_ int, x []float32, shape []int, eps float32) ([]float32, error) {
	return kernels.L2Normalize(x, shape, eps)
}

// TestDoctorKernelSelftest checks the CUDA-kernel rows of --selftest with the
// CPU kernels standing in for the GPU (no GPU here): one row per kernel and
// device, the tolerance stated, a wrong kernel failing, and the lines for a
// binary without the gpu tag and for a gpu build without a device.
func TestDoctorKernelSelftest(t *testing.T) {
	items := kernelSelftest(cpuKernels{devs: []int{0, 1}}, true)
	if len(items) != 10 {
		t.Fatalf("%d rows, want 5 kernels × 2 devices: %+v", len(items), items)
	}
	for _, it := range items {
		if !it.OK || it.Skipped || it.MaxAbs != 0 || it.Tolerance == "" || !strings.HasPrefix(it.Check, "cuda:") {
			t.Errorf("row %+v, want ok with max |diff| 0 and a tolerance", it)
		}
	}
	var sb strings.Builder
	printReport(&sb, &Report{Selftest: items[:2]})
	if !strings.Contains(sb.String(), "ok   cuda:0: kernel normalize 2×37×53×3 vs cpu (max |diff| 0, tolerance exact)") {
		t.Errorf("text report:\n%s", sb.String())
	}

	bad := kernelSelftest(cpuKernels{devs: []int{0}, off: 1e-3}, true)
	var failed []string
	for _, it := range bad {
		if !it.OK {
			failed = append(failed, it.Check)
			if it.MaxAbs < 9e-4 || !strings.Contains(it.Detail, "outside the tolerance") {
				t.Errorf("failed row %+v, want max |diff| ≈ 1e-3 and a reason", it)
			}
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "softmax") {
		t.Errorf("failed rows %v, want the softmax row alone", failed)
	}

	for name, tc := range map[string]struct {
		g      kernels.GPUKernels
		built  bool
		ok     bool
		detail string
	}{
		"no gpu tag":       {nil, false, true, "not built"},
		"no device":        {cpuKernels{err: errors.New("no CUDA device: cuInit: CUDA_ERROR_NO_DEVICE (100)")}, true, true, "CUDA_ERROR_NO_DEVICE"},
		"zero devices":     {cpuKernels{}, true, true, "no CUDA device"},
		"tag, no provider": {nil, true, false, "no CUDA kernels registered"},
	} {
		items := kernelSelftest(tc.g, tc.built)
		if len(items) != 1 || items[0].OK != tc.ok || items[0].Skipped != tc.ok || !strings.Contains(items[0].Detail, tc.detail) {
			t.Errorf("%s: %+v, want one row ok=%v mentioning %q", name, items, tc.ok, tc.detail)
		}
	}
}
