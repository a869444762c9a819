package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Target returns the model version requests run on: the engine is the
// front's local backend (front.Backend), its versions the targets.
func (e *Engine) Target(name, ver string) (front.Target, error) {
	v, err := e.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Spec describes the version.
func (v *version) Spec() *models.Spec { return &v.spec }

// Expect announces a request for model name's version ver to its batcher
// (batch.Batcher.Expect), so that a batch forming meanwhile may wait for
// it: the engine is a front.Expecter. It announces nothing for an unknown
// version.
func (e *Engine) Expect(ctx context.Context, name, ver string) (context.Context, func()) {
	v, err := e.lookup(name, ver)
	if err != nil {
		return ctx, func() {}
	}
	return v.batcher.Expect(ctx)
}

// Submit queues inputs on the version's batcher at priority prio and waits
// for the outputs. A full queue is busy (the KServe edge adds
// Retry-After); a deadline that passes before the request runs is expired
// (it is dropped, counted as expired, and never reaches the model), as is
// one that passes while it runs; a client that went away is cancelled; a
// version closed under the request (a reload swapped it) asks the front to
// retry on its successor.
func (v *version) Submit(ctx context.Context, inputs []tensor.Tensor, prio batch.Priority) ([]tensor.Tensor, error) {
	outs, err := v.batcher.Submit(ctx, inputs, prio)
	if err == nil {
		return outs, nil
	}
	name := v.spec.Name
	switch {
	case errors.Is(err, batch.ErrQueueFull):
		return nil, api.Fail(api.KindBusy, "model '%s': %v, retry later", name, err)
	case errors.Is(err, batch.ErrTooLarge):
		return nil, api.Fail(api.KindBadInput, "model '%s': %v", name, err)
	case errors.Is(err, batch.ErrClosed):
		return nil, fmt.Errorf("%w: %w", front.ErrReplaced, api.Fail(api.KindUnavailable, "model '%s': %v", name, err))
	case errors.Is(err, batch.ErrExpired):
		return nil, api.Fail(api.KindExpired, "model '%s': deadline passed before the request ran", name)
	}
	return nil, front.SubmitError(name, err)
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
