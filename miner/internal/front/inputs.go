package front

import (
	"slices"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// ValidateInputs checks the request's inputs against the model (names,
// datatypes, shapes with -1 wildcards, one batch size within MaxBatchSize,
// the data's length) and returns them in the model's input order. Errors
// are *api.Error of KindBadInput.
func ValidateInputs(spec *models.Spec, req *api.InferRequest) ([]tensor.Tensor, error) {
	out := make([]tensor.Tensor, len(spec.Inputs))
	seen := make([]bool, len(spec.Inputs))
	batchSize := int64(-1)
	for i := range req.Inputs {
		in := &req.Inputs[i]
		k := slices.IndexFunc(spec.Inputs, func(t models.TensorSpec) bool { return t.Name == in.Name })
		if k < 0 {
			return nil, api.BadRequest("unexpected inference input '%s' for model '%s'; its inputs are %s", in.Name, spec.Name, names(spec.Inputs))
		}
		want := spec.Inputs[k]
		if in.DataType != want.DataType {
			return nil, api.BadRequest("input '%s' of model '%s': datatype %s, expected %s", in.Name, spec.Name, in.DataType, want.DataType)
		}
		if !models.ShapeMatches(want.Shape, in.Shape) {
			return nil, api.BadRequest("input '%s' of model '%s': shape %s does not match the model's %s (-1 = any size)",
				in.Name, spec.Name, tensor.FormatShape(in.Shape), tensor.FormatShape(want.Shape))
		}
		if spec.MaxBatchSize > 0 {
			b := in.Shape[0]
			if b < 1 {
				return nil, api.BadRequest("input '%s' of model '%s': batch dimension must be at least 1, got %d", in.Name, spec.Name, b)
			}
			if b > int64(spec.MaxBatchSize) {
				return nil, api.BadRequest("input '%s' of model '%s': batch size %d exceeds max_batch_size %d", in.Name, spec.Name, b, spec.MaxBatchSize)
			}
			if batchSize >= 0 && b != batchSize {
				return nil, api.BadRequest("model '%s': inputs disagree on the batch size (%d and %d)", spec.Name, batchSize, b)
			}
			batchSize = b
		}
		if err := in.Validate(); err != nil {
			return nil, api.BadRequest("%v", err)
		}
		out[k] = *in
		seen[k] = true
	}
	for k, ok := range seen {
		if !ok {
			return nil, api.BadRequest("model '%s' expects %d inputs %s; input '%s' is missing", spec.Name, len(spec.Inputs), names(spec.Inputs), spec.Inputs[k].Name)
		}
	}
	return out, nil
}

// respond builds the response with the requested outputs.
func respond(spec *models.Spec, req *api.InferRequest, outs []tensor.Tensor) (*api.InferResponse, error) {
	resp := &api.InferResponse{ModelName: spec.Name, ModelVersion: spec.Version, ID: req.ID}
	if len(req.Outputs) == 0 {
		resp.Outputs = make([]api.ResponseOutput, len(outs))
		for i := range outs {
			resp.Outputs[i] = api.ResponseOutput{Tensor: outs[i], Binary: req.BinaryOutput}
		}
		return resp, nil
	}
	resp.Outputs = make([]api.ResponseOutput, 0, len(req.Outputs))
	for i := range req.Outputs {
		ro := &req.Outputs[i]
		k := slices.IndexFunc(outs, func(t tensor.Tensor) bool { return t.Name == ro.Name })
		if k < 0 {
			return nil, api.BadRequest("unexpected inference output '%s' for model '%s'; its outputs are %s", ro.Name, spec.Name, names(spec.Outputs))
		}
		resp.Outputs = append(resp.Outputs, api.ResponseOutput{Tensor: outs[k], Binary: ro.WantBinary(req.BinaryOutput)})
	}
	return resp, nil
}

// checkOutputs rejects requested outputs the model does not have, before
// the request costs an execution.
func checkOutputs(spec *models.Spec, req *api.InferRequest) error {
	for _, ro := range req.Outputs {
		if _, ok := spec.Output(ro.Name); !ok {
			return api.BadRequest("unexpected inference output '%s' for model '%s'; its outputs are %s", ro.Name, spec.Name, names(spec.Outputs))
		}
	}
	return nil
}

func names(ts []models.TensorSpec) string {
	s := "["
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += "'" + t.Name + "'"
	}
	return s + "]"
}
