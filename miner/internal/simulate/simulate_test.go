package simulate

import (
	"slices"
	"testing"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// TestSimulateSpecsMismatch: the I/O comparison behind --miner-models. A variable dimension of the
// miner's model fits anything; a fixed one must equal the reference's, which must be fixed too.
func TestSimulateSpecsMismatch(t *testing.T) {
	spec := func(name string, dt tensor.DataType, shape ...int64) models.TensorSpec {
		return models.TensorSpec{Name: name, DataType: dt, Shape: shape}
	}
	ref := []models.TensorSpec{spec("x", tensor.FP32, -1, 4), spec("m", tensor.Int64, -1)}
	tests := []struct {
		name string
		got  []models.TensorSpec
		want []string
	}{
		{"same", []models.TensorSpec{spec("m", tensor.Int64, -1), spec("x", tensor.FP32, -1, 4)}, nil},
		{"variable fits fixed", []models.TensorSpec{spec("x", tensor.FP32, -1, -1), spec("m", tensor.Int64, -1)}, nil},
		{"fixed where variable", []models.TensorSpec{spec("x", tensor.FP32, 1, 4), spec("m", tensor.Int64, -1)},
			[]string{`input "x": shape [1,4], reference [-1,4]`}},
		{"other size", []models.TensorSpec{spec("x", tensor.FP32, -1, 5), spec("m", tensor.Int64, -1)},
			[]string{`input "x": shape [-1,5], reference [-1,4]`}},
		{"other rank", []models.TensorSpec{spec("x", tensor.FP32, -1), spec("m", tensor.Int64, -1)},
			[]string{`input "x": shape [-1], reference [-1,4]`}},
		{"datatype", []models.TensorSpec{spec("x", tensor.FP16, -1, 4), spec("m", tensor.Int64, -1)},
			[]string{`input "x": datatype FP16, reference FP32`}},
		{"missing and extra", []models.TensorSpec{spec("x", tensor.FP32, -1, 4), spec("mask", tensor.Int64, -1)},
			[]string{`input "m" missing`, `input "mask" not in the reference`}},
	}
	for _, tt := range tests {
		if got := specsMismatch("input", ref, tt.got); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
