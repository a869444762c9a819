package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Served describes one serving model version, for a worker that consumes
// its requests from a shared queue.
type Served struct {
	Name, Version string
	// MaxBatchSize is the version's max_batch_size (0: no batch axis).
	MaxBatchSize int
	// MaxQueueDelay is the version's batching window.
	MaxQueueDelay time.Duration
	// Instances is the number of concurrent executions.
	Instances int
	// Metadata is the KServe model metadata of the version.
	Metadata *api.ModelMetadata
	// DynamicBatching is the version's dynamic_batching config (nil: none),
	// which decides how a request's priority and timeout parameters apply.
	DynamicBatching *models.DynamicBatching
}

// Serving lists the serving model versions, sorted by name and version.
func (e *Engine) Serving() []Served {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []Served
	for _, name := range slices.Sorted(maps.Keys(e.models)) {
		m := e.models[name]
		var versions []string
		for _, n := range slices.Sorted(maps.Keys(m.ready)) {
			versions = append(versions, strconv.FormatInt(n, 10))
		}
		for _, n := range slices.Sorted(maps.Keys(m.ready)) {
			v := m.ready[n]
			s := Served{Name: name, Version: v.spec.Version, MaxBatchSize: v.spec.MaxBatchSize,
				MaxQueueDelay: e.opt.DefaultMaxQueueDelay, Instances: 1, DynamicBatching: v.spec.Config.DynamicBatching,
				Metadata: &api.ModelMetadata{Name: name, Versions: versions, Platform: models.Platform,
					Inputs: tensorMetadata(v.spec.Inputs), Outputs: tensorMetadata(v.spec.Outputs)}}
			if db := v.spec.Config.DynamicBatching; db != nil && db.MaxQueueDelayMicroseconds != nil {
				s.MaxQueueDelay = time.Duration(*db.MaxQueueDelayMicroseconds) * time.Microsecond
			}
			s.Instances = len(v.pool.instances)
			out = append(out, s)
		}
	}
	return out
}

// Run runs inputs already checked by a front on model version ver at the
// version's default priority, unless prio is non-zero, within ctx (whose
// deadline is the request's). The inputs are checked again and arranged in
// the model's order; every output is returned. Errors are *api.Error with
// the status the in-process path would answer.
func (e *Engine) Run(ctx context.Context, name, ver string, inputs []tensor.Tensor, prio float64) ([]tensor.Tensor, error) {
	req := &api.InferRequest{Inputs: inputs}
	for attempt := 0; ; attempt++ {
		v, err := e.lookup(name, ver)
		if err != nil {
			return nil, err
		}
		in, err := Arrange(&v.spec, req)
		if err != nil {
			return nil, err
		}
		p, _, err := schedule(&v.spec, nil, 0)
		if err != nil {
			return nil, err
		}
		if prio != 0 {
			p = batch.Priority(prio)
		}
		outs, err := v.batcher.Submit(ctx, in, p)
		if errors.Is(err, batch.ErrClosed) && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, submitError(name, 0, err)
		}
		return outs, nil
	}
}

// CheckParameters refuses parameters of extensions the engine does not
// implement, as Infer does (400).
func CheckParameters(req *api.InferRequest) error { return checkParameters(req) }

// Schedule resolves a request's priority and timeout parameters against a
// model's dynamic_batching config as Infer does (see schedule): the
// priority to run at and the timeout (0: none), or a 400.
func Schedule(name string, db *models.DynamicBatching, p api.Parameters, serverDefault time.Duration) (batch.Priority, time.Duration, error) {
	spec := models.Spec{Name: name, Config: models.Config{DynamicBatching: db}}
	return schedule(&spec, p, serverDefault)
}
