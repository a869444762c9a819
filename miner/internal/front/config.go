package front

import (
	"slices"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
)

// ModelConfig returns the configuration clients see of model name's
// version ver ("" the newest ready one), from the backend's spec: the
// batch size limit, and the inputs' and outputs' dims without the batch
// dimension when the model batches (Triton's convention).
func (f *Front) ModelConfig(name, ver string) (*api.ModelConfig, error) {
	t, err := f.backend.Target(name, ver)
	if err != nil {
		return nil, err
	}
	spec := t.Spec()
	cfg := &api.ModelConfig{Name: spec.Name, Platform: models.Platform, MaxBatchSize: spec.MaxBatchSize,
		DynamicBatching: spec.Config.DynamicBatching != nil}
	dims := func(ts []models.TensorSpec) []api.TensorMetadata {
		out := make([]api.TensorMetadata, len(ts))
		for i, t := range ts {
			shape := slices.Clone(t.Shape)
			if spec.MaxBatchSize > 0 && len(shape) > 0 {
				shape = shape[1:]
			}
			out[i] = api.TensorMetadata{Name: t.Name, Datatype: t.DataType.String(), Shape: shape}
		}
		return out
	}
	cfg.Inputs, cfg.Outputs = dims(spec.Inputs), dims(spec.Outputs)
	return cfg, nil
}
