package kernels

import (
	"errors"
	"slices"
	"testing"
)

// fakeGPU stands in for kernels/cuda, which cannot run here (no GPU): it
// answers Normalize with a marker, or fails.
type fakeGPU struct {
	devErr, runErr error
	calls          int
}

func (f *fakeGPU) Devices() ([]int, error) {
	if f.devErr != nil {
		return nil, f.devErr
	}
	return []int{3}, nil
}

func (f *fakeGPU) Normalize(dev int, pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	f.calls++
	if f.runErr != nil {
		return nil, nil, f.runErr
	}
	return []float32{float32(dev)}, []int{1}, nil
}

func (f *fakeGPU) Softmax(int, []float32, []int) ([]float32, error) { return nil, nil }
func (f *fakeGPU) TopK(int, []float32, []int, int) ([]float32, []int, []int, error) {
	return nil, nil, nil, nil
}
func (f *fakeGPU) L2Normalize(int, []float32, []int, float32) ([]float32, error) { return nil, nil }

// TestNormalizePreferred: the GPU's answer when a device runs it; the CPU's
// without GPU kernels, without a device, or when the GPU run fails.
func TestNormalizePreferred(t *testing.T) {
	pix := []uint8{0, 128, 255, 10, 20, 30}
	shape := []int{1, 1, 2, 3}
	p := NormParams{Scale: 1.0 / 255, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}}
	cpu, _, err := Normalize(pix, shape, p)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		gpu   *fakeGPU
		want  []float32
		calls int
	}{
		{"gpu runs it", &fakeGPU{}, []float32{3}, 1},
		{"no device", &fakeGPU{devErr: boom}, cpu, 0},
		{"gpu run fails", &fakeGPU{runErr: boom}, cpu, 1},
	} {
		got, _, err := normalizeOn(tc.gpu, pix, shape, p)
		if err != nil || !slices.Equal(got, tc.want) || tc.gpu.calls != tc.calls {
			t.Errorf("%s: %v, %v after %d GPU calls; want %v after %d", tc.name, got, err, tc.gpu.calls, tc.want, tc.calls)
		}
	}
	if got, _, err := normalizeOn(nil, pix, shape, p); err != nil || !slices.Equal(got, cpu) {
		t.Errorf("without GPU kernels: %v, %v; want the CPU's", got, err)
	}
}
