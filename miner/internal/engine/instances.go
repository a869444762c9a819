package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// pool is the batch.Runner of a version with several instances (sessions):
// the version's one batcher runs as many workers as there are instances,
// and each batch goes to the least-loaded instance, the one with the fewest
// batches in flight (ties: the lowest index). Batches on different
// instances run in parallel.
type pool struct {
	mu        sync.Mutex // guards the choice and inflight counts together
	instances []*instance
}

// instance is one session of a version and where it was placed.
type instance struct {
	session    models.Session
	device     string // placement.Target.String()
	inflight   int    // guarded by pool.mu
	executions atomic.Uint64
}

// InstanceStats describes one instance of a serving model version.
type InstanceStats struct {
	// Device is where the instance runs: "cpu", "cuda:0", "tensorrt:1".
	Device string `json:"device"`
	// Executions counts the batches the instance ran (warm-up excluded).
	Executions uint64 `json:"execution_count"`
	// Executing is the batches running on it now.
	Executing int `json:"executing"`
}

// Run runs the batch on the least-loaded instance.
func (p *pool) Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	in := p.acquire()
	defer p.release(in)
	in.executions.Add(1)
	return in.session.Run(ctx, inputs)
}

func (p *pool) acquire() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := p.instances[0]
	for _, in := range p.instances[1:] {
		if in.inflight < best.inflight {
			best = in
		}
	}
	best.inflight++
	return best
}

func (p *pool) release(in *instance) {
	p.mu.Lock()
	in.inflight--
	p.mu.Unlock()
}

func (p *pool) stats() []InstanceStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]InstanceStats, len(p.instances))
	for i, in := range p.instances {
		out[i] = InstanceStats{Device: in.device, Executions: in.executions.Load(), Executing: in.inflight}
	}
	return out
}

// devices lists where the instances run, in order.
func (p *pool) devices() []string {
	out := make([]string, len(p.instances))
	for i, in := range p.instances {
		out[i] = in.device
	}
	return out
}

// close closes every session.
func (p *pool) close() error {
	var errs []error
	for _, in := range p.instances {
		errs = append(errs, in.session.Close())
	}
	return errors.Join(errs...)
}

// Instances returns the instances of a serving model version ("" for the
// newest), in order, with their device and execution counts.
func (e *Engine) Instances(name, ver string) ([]InstanceStats, error) {
	v, err := e.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	return v.pool.stats(), nil
}
