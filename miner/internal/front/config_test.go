package front

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

func TestModelConfigDropsTheBatchDimension(t *testing.T) {
	batched := newTarget(2)
	unbatched := newTarget(0)
	unbatched.spec.MaxBatchSize = 0
	unbatched.spec.Inputs = []models.TensorSpec{{Name: "x", DataType: tensor.Bytes, Shape: []int64{3}}}
	tests := []struct {
		name string
		t    *target
		want *api.ModelConfig
	}{
		{"batched", batched, &api.ModelConfig{Name: "m", Platform: models.Platform, MaxBatchSize: 8, DynamicBatching: true,
			Inputs:  []api.TensorMetadata{{Name: "x", Datatype: "FP32", Shape: []int64{2}}},
			Outputs: []api.TensorMetadata{{Name: "y", Datatype: "FP32", Shape: []int64{2}}}}},
		{"unbatched", unbatched, &api.ModelConfig{Name: "m", Platform: models.Platform,
			Inputs:  []api.TensorMetadata{{Name: "x", Datatype: "BYTES", Shape: []int64{3}}},
			Outputs: []api.TensorMetadata{{Name: "y", Datatype: "FP32", Shape: []int64{-1, 2}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(backendFunc(func(string, string) (Target, error) { return tt.t, nil }), Options{})
			got, err := f.ModelConfig("m", "")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ModelConfig (-want +got):\n%s", d)
			}
		})
	}
	f := New(backendFunc(func(string, string) (Target, error) { return nil, api.NotFound("no model") }), Options{})
	if _, err := f.ModelConfig("x", ""); api.KindOf(err) != api.KindNotFound {
		t.Errorf("unknown model: got %v, want not found", err)
	}
}
