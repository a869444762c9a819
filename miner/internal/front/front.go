// Package front is the miner's one inference front. Every edge calls
// Front.Infer: the KServe HTTP server, the axon (its Infer synapse and the
// mapped synapses), and a Redis worker running the jobs a remote front
// queued. It checks the request's parameters, validates the inputs against
// the target model version and puts them in the model's order, resolves the
// request's priority and deadline, and submits it to a Backend: the local
// batchers (the engine) or the workers through Redis (redisnode). Failures
// are *api.Error of an api.Kind, never a protocol's code: each edge maps
// kinds to its own codes.
package front

import (
	"context"
	"errors"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Backend finds the model version a request runs on.
type Backend interface {
	// Target returns model name's version ver ("" selects the newest
	// ready one), or an *api.Error (not found, not ready, unreachable).
	Target(name, ver string) (Target, error)
}

// Target is one model version ready to take requests: a transport.
type Target interface {
	// Spec describes the version: name, version, inputs, outputs, batch
	// axis and dynamic batching config.
	Spec() *models.Spec
	// Submit runs inputs (checked, in the model's order) at priority prio
	// within ctx, whose deadline is the request's, and returns every
	// output. Errors are *api.Error of a Kind; one wrapping ErrReplaced
	// asks the front to look the version up again and retry once.
	Submit(ctx context.Context, inputs []tensor.Tensor, prio batch.Priority) ([]tensor.Tensor, error)
}

// ErrReplaced is wrapped by a Target's error when its version was replaced
// (a reload) while the request was being submitted: the front retries once
// on the version that replaced it.
var ErrReplaced = errors.New("model version replaced while the request was submitted")

// Recorder is told how each request Infer answers ended, once: err is nil
// for a success, else an *api.Error of a Kind; submitted reports whether
// the request reached a model version's queue (false: the front answered
// it itself, from the lookup, the parameters or the inputs). It is called on
// the serving path, from many goroutines at once.
type Recorder interface {
	Answered(err error, submitted bool)
}

// Options configure a Front.
type Options struct {
	// DefaultTimeout is the deadline of requests whose parameters and model
	// set none (--default-timeout); 0 means none.
	DefaultTimeout time.Duration
	// Recorder, when set, is told about every answered request (the
	// front's Prometheus counters).
	Recorder Recorder
}

// Front prepares requests and submits them to its backend.
type Front struct {
	backend Backend
	opt     Options
}

// New returns a front over backend.
func New(backend Backend, opt Options) *Front {
	return &Front{backend: backend, opt: opt}
}

// Expecter is a Backend whose versions gather requests into batches and
// may wait for the ones announced to them (batch.Batcher.Expect).
type Expecter interface {
	// Expect announces a request for model name's version ver; see
	// Front.Expect.
	Expect(ctx context.Context, name, ver string) (context.Context, func())
}

// Expect announces a request for model name's version ver that is about to
// be read and decoded, when the backend gathers batches (Expecter): pass
// the returned context to Infer and call the returned function once the
// request is answered. It announces nothing (and returns ctx) when the
// backend does not gather (a Redis front: its workers batch) or the
// version is unknown.
func (f *Front) Expect(ctx context.Context, name, ver string) (context.Context, func()) {
	if e, ok := f.backend.(Expecter); ok {
		return e.Expect(ctx, name, ver)
	}
	return ctx, func() {}
}

// Infer runs req on model name's version ver and returns the requested
// outputs (every output when it names none).
//
// The request runs at req.Priority when an edge set one (the axon's stake
// priority), else at the level its parameters.priority asks for (see
// Schedule), within its timeout: the ctx's deadline, shortened by the
// timeout Schedule resolves. Failures: bad input (parameters, inputs,
// outputs), not found, unavailable (not ready, backend unreachable), busy
// (queue full), expired (the deadline passed before or while it ran),
// cancelled (ctx ended: the client went away), internal (the model failed).
func (f *Front) Infer(ctx context.Context, name, ver string, req *api.InferRequest) (*api.InferResponse, error) {
	resp, submitted, err := f.infer(ctx, name, ver, req)
	if f.opt.Recorder != nil {
		f.opt.Recorder.Answered(err, submitted)
	}
	return resp, err
}

// infer is Infer; submitted reports whether the request reached a target.
func (f *Front) infer(ctx context.Context, name, ver string, req *api.InferRequest) (_ *api.InferResponse, submitted bool, _ error) {
	if err := CheckParameters(req); err != nil {
		return nil, false, err
	}
	for attempt := 0; ; attempt++ {
		t, err := f.backend.Target(name, ver)
		if err != nil {
			return nil, submitted, err
		}
		spec := t.Spec()
		inputs, err := ValidateInputs(spec, req)
		if err != nil {
			return nil, submitted, err
		}
		if err := checkOutputs(spec, req); err != nil {
			return nil, submitted, err
		}
		prio, timeout, err := Schedule(spec, req.Parameters, f.opt.DefaultTimeout)
		if err != nil {
			return nil, submitted, err
		}
		if req.Priority != 0 {
			prio = batch.Priority(req.Priority)
		}
		submitted = true
		outs, err := submit(ctx, t, inputs, prio, timeout)
		if errors.Is(err, ErrReplaced) && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, true, withTimeout(err, timeout)
		}
		resp, err := respond(spec, req, outs)
		return resp, true, err
	}
}

// submit submits with a deadline timeout from now unless timeout is 0.
func submit(ctx context.Context, t Target, inputs []tensor.Tensor, prio batch.Priority, timeout time.Duration) ([]tensor.Tensor, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return t.Submit(ctx, inputs, prio)
}

// withTimeout adds the timeout to the message of an expired request.
func withTimeout(err error, timeout time.Duration) error {
	if e, ok := errors.AsType[*api.Error](err); ok && e.Kind == api.KindExpired && timeout > 0 {
		return api.Fail(api.KindExpired, "%s (timeout %v)", e.Message, timeout)
	}
	return err
}

// SubmitError maps a submission's error to its kind: ctx ending (cancelled,
// or the deadline passing while the request ran or waited for an answer)
// and anything else (internal). Transports classify their own errors first
// and call it for the rest.
func SubmitError(name string, err error) error {
	switch {
	case errors.As(err, new(*api.Error)):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return api.Fail(api.KindExpired, "model '%s': deadline passed while the request ran", name)
	case errors.Is(err, context.Canceled):
		return api.Fail(api.KindCancelled, "model '%s': request cancelled: the client went away", name)
	}
	return api.Fail(api.KindInternal, "model '%s': %v", name, err)
}
