package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Infer validates a request against the model, queues it for the batcher at
// its priority (the one WithPriority set on ctx, else its parameters'),
// within its timeout (see schedule), and returns the requested outputs.
//
// Statuses of scheduling: a full queue is 429 (the server adds
// Retry-After); a deadline that passes before the request runs is 503
// "deadline passed before the request ran" (it is dropped, counted as
// expired, and never reaches the model), one that passes while it runs is
// 503 too; a client that went away gets 400 (it does not read it).
func (e *Engine) Infer(ctx context.Context, name, ver string, req *api.InferRequest) (*api.InferResponse, error) {
	if err := checkParameters(req); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		v, err := e.lookup(name, ver)
		if err != nil {
			return nil, err
		}
		inputs, err := Arrange(&v.spec, req)
		if err != nil {
			return nil, err
		}
		if err := checkOutputs(&v.spec, req); err != nil {
			return nil, err
		}
		prio, timeout, err := schedule(&v.spec, req.Parameters, e.opt.DefaultTimeout)
		if err != nil {
			return nil, err
		}
		if p, ok := PriorityFrom(ctx); ok {
			prio = batch.Priority(p)
		}
		outs, err := submit(ctx, v.batcher, inputs, prio, timeout)
		if errors.Is(err, batch.ErrClosed) && attempt == 0 {
			continue // the version was swapped out under us; take the new one
		}
		if err != nil {
			return nil, submitError(name, timeout, err)
		}
		return respond(&v.spec, req, outs)
	}
}

// submit queues inputs at priority prio, with a deadline timeout from now
// unless timeout is 0.
func submit(ctx context.Context, b *batch.Batcher, inputs []tensor.Tensor, prio batch.Priority, timeout time.Duration) ([]tensor.Tensor, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return b.Submit(ctx, inputs, prio)
}

func submitError(name string, timeout time.Duration, err error) error {
	within := ""
	if timeout > 0 {
		within = fmt.Sprintf(" (timeout %v)", timeout)
	}
	switch {
	case errors.Is(err, batch.ErrQueueFull):
		return api.Errorf(http.StatusTooManyRequests, "model '%s': %v, retry later", name, err)
	case errors.Is(err, batch.ErrTooLarge):
		return api.BadRequest("model '%s': %v", name, err)
	case errors.Is(err, batch.ErrClosed):
		return api.Errorf(http.StatusServiceUnavailable, "model '%s': %v", name, err)
	case errors.Is(err, batch.ErrExpired):
		return api.Errorf(http.StatusServiceUnavailable, "model '%s': deadline passed before the request ran%s", name, within)
	case errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(http.StatusServiceUnavailable, "model '%s': deadline passed while the request ran%s", name, within)
	case errors.Is(err, context.Canceled):
		return api.Errorf(api.StatusClientClosedRequest, "model '%s': request cancelled: the client went away", name)
	}
	return api.Errorf(http.StatusInternalServerError, "model '%s': %v", name, err)
}

// QueueStats returns the batcher counters of one model version (the newest
// ready one when ver is empty), including what the protocol's statistics
// do not carry yet, such as requests dropped because their deadline passed.
func (e *Engine) QueueStats(name, ver string) (batch.Snapshot, error) {
	v, err := e.lookup(name, ver)
	if err != nil {
		return batch.Snapshot{}, err
	}
	return v.batcher.Stats(), nil
}

// Arrange checks the request's inputs against the model (names, datatypes,
// shapes with -1 wildcards, the batch size against MaxBatchSize) and returns
// them in the model's input order. Errors are *api.Error with status 400.
func Arrange(spec *models.Spec, req *api.InferRequest) ([]tensor.Tensor, error) {
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
