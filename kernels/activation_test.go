package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestStdEngSoftMaxIsBatchDependent records why Softmax does not call
// tensor.StdEng.SoftMax (tensor v0.9.24): its last-axis path seeds every
// row's maximum with the tensor's first element, so the row [2 3 4] comes out
// NaN when batched after a row starting with 100, while Softmax gives the
// same answer alone and batched. If this test fails after a tensor upgrade,
// the upstream bug may be fixed.
func TestStdEngSoftMaxIsBatchDependent(t *testing.T) {
	batch := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{100, 0, 1, 2, 3, 4}))
	r, err := tensor.StdEng{}.SoftMax(batch, 1)
	if err != nil {
		t.Fatal(err)
	}
	upstream := r.Data().([]float32)[3:]
	if !math.IsNaN(float64(upstream[0])) {
		t.Fatalf("StdEng.SoftMax now gives %v for the second row; re-check the upstream fix", upstream)
	}
	ours, err := Softmax([]float32{100, 0, 1, 2, 3, 4}, []int{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Softmax([]float32{2, 3, 4}, []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if firstBitDiff(ours[3:], alone) >= 0 {
		t.Fatalf("batched %v, alone %v", ours[3:], alone)
	}
}
