// Package batch is the dynamic batcher: per model version it queues single
// requests from many clients, merges what is waiting into one execution along
// the batch axis, and splits the outputs back to each request.
//
// Policy (per worker): a lone request on an idle model runs at once; while
// the model is busy, requests queue, and the next worker to free up takes
// everything queued that fits (up to the max batch size) as one batch. With a
// max queue delay the oldest request may wait that long for the batch to fill
// or reach a preferred size. Requests whose non-batch dimensions differ never
// share a batch. Cancelled or expired requests are dropped before they cost
// an execution. The queue is bounded: when full, Submit fails at once with
// ErrQueueFull instead of letting latency grow.
package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taominer/taominer/models/tensor"
)

// ErrQueueFull is returned by Submit when the model's queue is at its bound.
var ErrQueueFull = errors.New("model queue is full")

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("model is unloading")

// ErrTooLarge is returned for a request whose own batch exceeds the max.
var ErrTooLarge = errors.New("request batch exceeds max_batch_size")

// Runner executes one merged batch. Inputs are in the model's input order.
type Runner interface {
	Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error)
}

// Options configure a Batcher.
type Options struct {
	// MaxBatchSize is the most items merged into one execution. 0 means the
	// model has no batch axis: requests run one at a time, unmerged.
	MaxBatchSize int
	// PreferredBatchSizes release a batch early, while waiting out
	// MaxQueueDelay, as soon as it reaches one of these sizes.
	PreferredBatchSizes []int
	// MaxQueueDelay is how long the oldest request may wait for a batch to
	// fill. 0: no waiting beyond what queued while the model was busy.
	MaxQueueDelay time.Duration
	// MaxQueueSize bounds the requests waiting per model (default 1024).
	MaxQueueSize int
	// Instances is how many executions may run at once (default 1).
	Instances int
	Logger    *slog.Logger
}

// Batcher merges requests for one model version.
type Batcher struct {
	run   Runner
	opt   Options
	log   *slog.Logger
	queue chan *job
	// held has jobs taken from the queue that did not fit their batch; they
	// are older than anything queued, so the next free worker starts with
	// one. It never holds more than one job per worker.
	held  chan *job
	mu    sync.RWMutex // guards closed against sends on a closed queue
	done  chan struct{}
	stats Stats

	closed atomic.Bool
	wg     sync.WaitGroup
}

// job is one queued request.
type job struct {
	ctx      context.Context //nolint:containedctx // the request's deadline and cancellation travel with it
	inputs   []tensor.Tensor
	items    int
	enqueued time.Time
	reply    chan result
	dropped  atomic.Bool // set by Submit when the caller gave up
}

type result struct {
	outputs []tensor.Tensor
	err     error
}

// New starts a batcher with its workers.
func New(r Runner, opt Options) *Batcher {
	if opt.MaxQueueSize <= 0 {
		opt.MaxQueueSize = 1024
	}
	if opt.Instances <= 0 {
		opt.Instances = 1
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{run: r, opt: opt, log: opt.Logger, queue: make(chan *job, opt.MaxQueueSize),
		held: make(chan *job, opt.Instances), done: make(chan struct{})}
	b.stats.init()
	b.wg.Add(opt.Instances)
	for range opt.Instances {
		go b.worker()
	}
	go func() { b.wg.Wait(); close(b.done) }()
	return b
}

// Submit queues one request and waits for its outputs. inputs must be
// validated against the model and in its input order; for a batching model
// every input's first dimension is the request's batch size.
func (b *Batcher) Submit(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	items := 1
	if b.opt.MaxBatchSize > 0 && len(inputs) > 0 && len(inputs[0].Shape) > 0 {
		items = int(inputs[0].Shape[0])
		if items > b.opt.MaxBatchSize {
			return nil, fmt.Errorf("%w: %d items, max_batch_size %d", ErrTooLarge, items, b.opt.MaxBatchSize)
		}
	}
	j := &job{ctx: ctx, inputs: inputs, items: items, enqueued: time.Now(), reply: make(chan result, 1)}
	b.mu.RLock()
	if b.closed.Load() {
		b.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case b.queue <- j:
		b.mu.RUnlock()
	default:
		b.mu.RUnlock()
		b.stats.rejected.Add(1)
		return nil, ErrQueueFull
	}
	select {
	case r := <-j.reply:
		b.stats.request(j.enqueued, r.err)
		return r.outputs, r.err
	case <-ctx.Done():
		j.dropped.Store(true)
		b.stats.request(j.enqueued, ctx.Err())
		return nil, ctx.Err()
	}
}

// QueueLength returns the number of requests waiting.
func (b *Batcher) QueueLength() int { return len(b.queue) + len(b.held) }

// Close stops accepting requests, lets the queued ones run, and waits for the
// workers until ctx ends.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed.Swap(true) {
		close(b.queue)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain batcher: %w", ctx.Err())
	}
}

func (b *Batcher) worker() {
	defer b.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := b.next()
		if !ok {
			return
		}
		if b.skip(first) {
			continue
		}
		batch := []*job{first}
		if b.opt.MaxBatchSize > 0 {
			var held *job
			batch, held = b.fill(batch, timer)
			if held != nil {
				// Let any free worker start the next batch with it rather
				// than make it wait for this run. Never blocks: a worker
				// adds at most one job before it takes one again.
				b.held <- held
			}
			// Callers may have left while the batch waited to fill.
			if batch = slices.DeleteFunc(batch, b.skip); len(batch) == 0 {
				continue
			}
		}
		b.execute(batch)
	}
}

// next returns the oldest waiting job: one that did not fit the previous
// batch, else the head of the queue. It reports false once the queue is
// closed and drained. A worker may return while a held job is left only if
// the worker that held it is still running its batch; that worker takes it
// on its own next call.
func (b *Batcher) next() (*job, bool) {
	select {
	case j := <-b.held:
		return j, true
	default:
	}
	if b.opt.Instances == 1 { // only this worker fills held, and it is empty
		j, ok := <-b.queue
		return j, ok
	}
	select {
	case j := <-b.held:
		return j, true
	case j, ok := <-b.queue:
		return j, ok
	}
}

// skip drops a job whose caller left or whose deadline passed.
func (b *Batcher) skip(j *job) bool {
	if j.dropped.Load() || j.ctx.Err() != nil {
		b.stats.cancelled.Add(1)
		j.reply <- result{err: context.Cause(j.ctx)}
		return true
	}
	return false
}

// fill adds queued jobs to the batch; it returns a job that could not join
// (different shape, or too many items), to start the next batch.
func (b *Batcher) fill(batch []*job, timer *time.Timer) ([]*job, *job) {
	first := batch[0]
	items := first.items
	deadline := first.enqueued.Add(b.opt.MaxQueueDelay)
	for items < b.opt.MaxBatchSize {
		var next *job
		var ok bool
		select {
		case next, ok = <-b.queue:
		default:
			wait := time.Until(deadline)
			if b.opt.MaxQueueDelay <= 0 || wait <= 0 || slices.Contains(b.opt.PreferredBatchSizes, items) {
				return batch, nil
			}
			timer.Reset(wait)
			select {
			case next, ok = <-b.queue:
				if !timer.Stop() {
					<-timer.C
				}
			case <-timer.C:
				return batch, nil
			}
		}
		if !ok {
			return batch, nil
		}
		if b.skip(next) {
			continue
		}
		if items+next.items > b.opt.MaxBatchSize || !sameItemShape(first, next) {
			return batch, next
		}
		batch = append(batch, next)
		items += next.items
	}
	return batch, nil
}

// sameItemShape reports whether two requests agree on every dimension but
// the batch dimension, so their inputs can be concatenated.
func sameItemShape(a, b *job) bool {
	for i := range a.inputs {
		if !slices.Equal(a.inputs[i].Shape[1:], b.inputs[i].Shape[1:]) {
			return false
		}
	}
	return true
}

func (b *Batcher) execute(batch []*job) {
	items := 0
	for _, j := range batch {
		items += j.items
	}
	t0 := time.Now()
	inputs := batch[0].inputs
	if len(batch) > 1 {
		inputs = merge(batch, items)
	}
	t1 := time.Now()
	outputs, err := b.safeRun(batch[0].ctx, inputs, len(batch))
	t2 := time.Now()
	var parts [][]tensor.Tensor
	if err == nil {
		parts, err = split(outputs, batch, b.opt.MaxBatchSize > 0)
	}
	t3 := time.Now()
	// Count the execution before replying, so that a caller who has its
	// answer finds it in Stats.
	b.stats.execution(items, t0, t1, t2, t3, batch, err == nil)
	if err != nil {
		b.log.Warn("batch failed", "items", items, "requests", len(batch), "err", err)
		for _, j := range batch {
			j.reply <- result{err: err}
		}
		return
	}
	for i, j := range batch {
		j.reply <- result{outputs: parts[i]}
	}
}

// safeRun runs the batch, turning a panic into an error for its requests. A
// batch of several requests runs without any one request's cancellation.
func (b *Batcher) safeRun(ctx context.Context, inputs []tensor.Tensor, requests int) (out []tensor.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("model run panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("model run panicked: %v", p)
		}
	}()
	if requests > 1 {
		ctx = context.WithoutCancel(ctx)
	}
	return b.run.Run(ctx, inputs)
}

// merge concatenates the batch's inputs along the first dimension.
func merge(batch []*job, items int) []tensor.Tensor {
	first := batch[0].inputs
	out := make([]tensor.Tensor, len(first))
	for i, in := range first {
		t := tensor.Tensor{Name: in.Name, DataType: in.DataType, Shape: slices.Clone(in.Shape)}
		t.Shape[0] = int64(items)
		if in.DataType == tensor.Bytes {
			t.Strings = make([][]byte, 0, len(in.Strings)/max(batch[0].items, 1)*items)
			for _, j := range batch {
				t.Strings = append(t.Strings, j.inputs[i].Strings...)
			}
		} else {
			t.Data = make([]byte, 0, len(in.Data)/max(batch[0].items, 1)*items)
			for _, j := range batch {
				t.Data = append(t.Data, j.inputs[i].Data...)
			}
		}
		out[i] = t
	}
	return out
}

// split cuts each output along the first dimension into the requests'
// shares. Slices alias the batch's output buffers.
func split(outputs []tensor.Tensor, batch []*job, batching bool) ([][]tensor.Tensor, error) {
	parts := make([][]tensor.Tensor, len(batch))
	if !batching || len(batch) == 1 {
		parts[0] = outputs
		return parts, nil
	}
	items := 0
	for _, j := range batch {
		items += j.items
	}
	for i := range parts {
		parts[i] = make([]tensor.Tensor, len(outputs))
	}
	for o, out := range outputs {
		if len(out.Shape) == 0 || out.Shape[0] != int64(items) {
			return nil, fmt.Errorf("output %q has shape %v, want first dimension %d (the batch)", out.Name, out.Shape, items)
		}
		if err := out.Validate(); err != nil {
			return nil, fmt.Errorf("model returned an inconsistent output: %w", err)
		}
		per := tensor.NumElements(out.Shape[1:])
		off := int64(0)
		for i, j := range batch {
			t := tensor.Tensor{Name: out.Name, DataType: out.DataType, Shape: slices.Clone(out.Shape)}
			t.Shape[0] = int64(j.items)
			n := per * int64(j.items)
			if out.DataType == tensor.Bytes {
				t.Strings = out.Strings[off : off+n : off+n]
			} else {
				sz := int64(out.DataType.Size())
				t.Data = out.Data[off*sz : (off+n)*sz : (off+n)*sz]
			}
			off += n
			parts[i][o] = t
		}
	}
	return parts, nil
}
