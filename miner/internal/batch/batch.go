// Package batch is the dynamic batcher: per model version it queues single
// requests from many clients, merges what is waiting into one execution along
// the batch axis, and splits the outputs back to each request.
//
// Policy (per worker): a lone request on an idle model runs at once; while
// the model is busy, requests queue, and the next worker to free up takes
// the highest-ranked request and, behind it in rank order, every queued
// request that shares its non-batch dimensions and fits (up to the max batch
// size) as one batch; it stops at the first one that does not, which then
// starts the next batch. With a max queue delay the first request may wait
// that long for the batch to fill or reach a preferred size. Without one,
// the worker gathers adaptively: it yields so that requests ready to run
// join, and waits only for requests the front has announced as on their
// way (Expect), at most GatherWindow; see gather.go and
// docs/batching-adaptive.md.
//
// Rank: each request carries a Priority (larger runs sooner; see Priority
// for the scale and LevelPriority for KServe levels) and ages while it
// waits, so higher priorities go first and lower ones cannot starve. Equal
// ranks run in arrival order.
//
// Overload: the queue is bounded; when full, Submit fails at once with
// ErrQueueFull (the server answers 429) instead of letting latency grow. A
// request whose caller left (context cancelled) or whose deadline passed
// (context deadline) before its batch started is dropped without costing an
// execution. Every request Submit answers counts once in Stats, in one
// outcome (see Snapshot), the same one its Observer is told.
package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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

// ErrExpired is returned by Submit when the request's deadline passed before
// it ran; the request never reached the model. It wraps
// context.DeadlineExceeded. A deadline that passes while the request runs
// returns the context's error instead.
var ErrExpired = fmt.Errorf("deadline passed before the request ran: %w", context.DeadlineExceeded)

// Runner executes one merged batch. Inputs are in the model's input order.
// Run must neither keep the inputs nor return outputs that share their
// memory: the batcher reuses a merged batch's input buffers for the next.
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
	// MaxQueueDelay is how long the first request of a batch may wait for
	// the batch to fill. 0: no fixed wait, only the adaptive gather window
	// for requests announced with Expect (see GatherWindow).
	MaxQueueDelay time.Duration
	// GatherWindow bounds the adaptive wait of a batch for announced
	// requests when MaxQueueDelay is 0 (see Expect): 0 means
	// DefaultGatherWindow, negative turns gathering off.
	GatherWindow time.Duration
	// TuneSize caps the batches below MaxBatchSize at the size measured to
	// run fastest per item (see sizer.go); false forms batches up to
	// MaxBatchSize.
	TuneSize bool
	// SizeClock is what TuneSize measures executions with.
	SizeClock SizeClock
	// MaxQueueSize bounds the requests waiting per model (default 1024).
	MaxQueueSize int
	// Instances is how many executions may run at once (default 1).
	Instances int
	// AgingPeriod is the wait that raises a request's effective Priority by
	// one (default DefaultAgingPeriod); see Priority.
	AgingPeriod time.Duration
	// Observer is told about each answered request and each execution, for
	// metrics; nil observes nothing.
	Observer Observer
	// Stats is where the batcher counts; nil starts new counters. A batcher
	// that replaces another for the same model version takes its Stats, so
	// that the counters go on across reloads.
	Stats  *Stats
	Logger *slog.Logger
}

// Batcher merges requests for one model version.
type Batcher struct {
	run   Runner
	opt   Options
	log   *slog.Logger
	obs   Observer
	epoch time.Time // ranks count from here

	mu     sync.Mutex
	queue  queue  // guarded by mu
	seq    uint64 // guarded by mu: arrival order, to break rank ties
	closed bool   // guarded by mu

	// size tunes the batch cap; nil without Options.TuneSize.
	size *sizer

	// expected counts the requests announced with Expect and not yet
	// queued or given up; see gatherWait.
	expected atomic.Int64

	// work wakes one idle worker: Submit sends after queueing, and a worker
	// that leaves jobs queued passes it on. Capacity 1, sends never block;
	// a stale wake-up only makes a worker look at the queue once more.
	work  chan struct{}
	quit  chan struct{} // closed by Close: drain, then stop
	done  chan struct{} // closed when every worker has returned
	stats *Stats
	wg    sync.WaitGroup
}

// Job states. A job is waiting from Submit until a worker starts its batch
// (running) or it is dropped before that; whoever moves it out of waiting
// decides, exactly once, whether it runs or is counted as dropped.
const (
	waiting int32 = iota
	running
	dropped
)

// job is one queued request.
type job struct {
	ctx      context.Context //nolint:containedctx // the request's deadline and cancellation travel with it
	inputs   []tensor.Tensor
	items    int
	enqueued time.Time
	started  time.Time // set by start before the job moves to running
	reply    chan result
	state    atomic.Int32

	rank  int64  // see rank; set under Batcher.mu
	seq   uint64 // arrival order
	index int    // position in the queue, -1 once taken out
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
	if opt.AgingPeriod <= 0 {
		opt.AgingPeriod = DefaultAgingPeriod
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.GatherWindow == 0 {
		opt.GatherWindow = DefaultGatherWindow
	}
	if opt.Observer == nil {
		opt.Observer = nopObserver{}
	}
	if opt.Stats == nil {
		opt.Stats = NewStats()
	}
	b := &Batcher{run: r, opt: opt, log: opt.Logger, obs: opt.Observer, stats: opt.Stats, epoch: time.Now(),
		work: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if opt.TuneSize && opt.MaxBatchSize > 1 {
		b.size = newSizer(opt.MaxBatchSize)
	}
	b.wg.Add(opt.Instances)
	for range opt.Instances {
		go b.worker()
	}
	go func() { b.wg.Wait(); close(b.done) }()
	return b
}

// Submit queues one request at priority p and waits for its outputs, or
// until ctx ends. inputs must be validated against the model and in its
// input order; for a batching model every input's first dimension is the
// request's batch size.
//
// Submit never blocks on a full queue: it fails at once with ErrQueueFull.
// A request whose ctx ends before its batch starts is dropped: Submit
// returns ErrExpired for a deadline, the context's error otherwise.
func (b *Batcher) Submit(ctx context.Context, inputs []tensor.Tensor, p Priority) ([]tensor.Tensor, error) {
	items := 1
	if b.opt.MaxBatchSize > 0 && len(inputs) > 0 && len(inputs[0].Shape) > 0 {
		items = int(inputs[0].Shape[0])
		if items > b.opt.MaxBatchSize {
			return nil, fmt.Errorf("%w: %d items, max_batch_size %d", ErrTooLarge, items, b.opt.MaxBatchSize)
		}
	}
	j := &job{ctx: ctx, inputs: inputs, items: items, enqueued: time.Now(), reply: make(chan result, 1), index: -1}
	if ctx.Err() != nil {
		// Already gone: never queue it.
		err := dropErr(ctx)
		b.answered(j, false, err)
		return nil, err
	}
	b.mu.Lock()
	b.take(ctx)
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if len(b.queue) >= b.opt.MaxQueueSize {
		b.mu.Unlock()
		b.answered(j, false, ErrQueueFull)
		return nil, ErrQueueFull
	}
	j.rank = rank(j.enqueued.Sub(b.epoch), p, b.opt.AgingPeriod)
	j.seq = b.seq
	b.seq++
	b.queue.push(j)
	b.mu.Unlock()
	b.wake()
	select {
	case r := <-j.reply:
		b.answered(j, j.state.Load() == running, r.err)
		return r.outputs, r.err
	case <-ctx.Done():
		var err error
		ran := false
		switch {
		case j.state.CompareAndSwap(waiting, dropped):
			// It never started: take it out of the queue (unless a worker
			// holds it for a batch; the worker then skips it) and count it.
			b.mu.Lock()
			b.queue.remove(j)
			b.mu.Unlock()
			err = dropErr(ctx)
		case j.state.Load() == dropped:
			// A worker saw the context end first; it counted the job and
			// is answering.
			err = (<-j.reply).err
		default:
			// Running: the batch goes on without this caller.
			err, ran = ctx.Err(), true
		}
		b.answered(j, ran, err)
		return nil, err
	}
}

// answered records a request Submit answers with err, once, in one
// outcome: in Stats and to the observer, so that both count it alike. ran
// reports whether its batch started.
func (b *Batcher) answered(j *job, ran bool, err error) {
	d := time.Since(j.enqueued)
	queue := time.Duration(-1)
	if ran {
		queue = max(j.started.Sub(j.enqueued), 0)
	}
	outcome := OutcomeSuccess
	switch {
	case err == nil:
	case errors.Is(err, ErrQueueFull):
		outcome = OutcomeRejected
	case errors.Is(err, context.DeadlineExceeded):
		outcome = OutcomeExpired
	case !ran || errors.Is(err, context.Canceled):
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeFailure
	}
	b.stats.request(d, outcome)
	b.obs.ObserveRequest(queue, d, outcome)
}

// wake lets one idle worker look at the queue.
func (b *Batcher) wake() {
	select {
	case b.work <- struct{}{}:
	default:
	}
}

// QueueLength returns the number of requests waiting.
func (b *Batcher) QueueLength() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close stops accepting requests, lets the queued ones run, and waits for the
// workers until ctx ends. It may be called more than once.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
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
	var buf []*job       // reused: a batch lives only until execute returns
	var scratch [][]byte // merged inputs, reused likewise
	var p pace
	for {
		batch, queued, ok := b.next(timer, buf[:0], &p)
		if !ok {
			return
		}
		// Callers may have left while the batch waited to fill.
		if batch = slices.DeleteFunc(batch, func(j *job) bool { return !b.start(j) }); len(batch) == 0 {
			continue
		}
		b.execute(batch, &scratch, queued || len(batch) > 1)
		clear(batch)
		buf = batch
	}
}

// next waits for work and forms the next batch: the highest-ranked live job,
// then, in rank order, the queued jobs that share its non-batch dimensions
// and fit, stopping at the first that does not. With MaxQueueDelay it waits
// up to that long after the first job's arrival for more, unless the batch
// is full, reaches a preferred size, or the next job cannot join; without
// it, it waits for announced jobs (gatherWait). It
// reports false once the batcher is closed and the queue drained. The batch
// is appended to batch, which is empty.
func (b *Batcher) next(timer *time.Timer, batch []*job, p *pace) (_ []*job, queued, ok bool) {
	items, limit := 0, b.opt.MaxBatchSize
	if b.size != nil {
		limit = b.size.limit()
	}
	var deadline time.Time
	var g gathering
	for {
		b.mu.Lock()
		if len(batch) == 0 {
			if j := b.popLive(); j != nil {
				batch, items = append(batch, j), j.items
				deadline = j.enqueued.Add(b.opt.MaxQueueDelay)
			}
		}
		blocked := false // the next job cannot join this batch
		for len(batch) > 0 && limit > 0 && items < limit {
			j := b.peekLive()
			if j == nil {
				break
			}
			if items+j.items > limit || !sameItemShape(batch[0], j) {
				blocked = true
				break
			}
			b.queue.pop()
			batch, items = append(batch, j), items+j.items
		}
		closed, more := b.closed, len(b.queue) > 0
		b.mu.Unlock()

		if len(batch) == 0 {
			if closed {
				return nil, false, false
			}
			select {
			case <-b.work:
			case <-b.quit:
			}
			continue
		}
		var wait time.Duration
		switch {
		case limit == 0 || items >= limit || blocked || closed:
		case b.opt.MaxQueueDelay > 0:
			wait = time.Until(deadline)
		default:
			var yield bool
			if wait, yield = b.gatherWait(&g, p, len(batch), batch[0].enqueued); yield {
				runtime.Gosched() // let the requests ready to run reach Submit
				continue
			}
		}
		if wait <= 0 || slices.Contains(b.opt.PreferredBatchSizes, items) {
			if more {
				b.wake() // what is left is for another worker, or this one's next turn
			}
			g.done(p, len(batch))
			return batch, more, true
		}
		timer.Reset(wait)
		select {
		case <-b.work:
		case <-b.quit:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// popLive removes and returns the highest-ranked job that may still run,
// dropping dead ones on the way; nil if there is none. b.mu is held.
func (b *Batcher) popLive() *job {
	for len(b.queue) > 0 {
		if j := b.queue.pop(); b.live(j) {
			return j
		}
	}
	return nil
}

// peekLive returns the highest-ranked job that may still run without
// removing it, dropping dead ones before it; nil if there is none. b.mu is
// held.
func (b *Batcher) peekLive() *job {
	for len(b.queue) > 0 {
		if j := b.queue[0]; b.live(j) {
			return j
		}
		b.queue.pop()
	}
	return nil
}

// live reports whether a job may still run. A job whose context ended is
// dropped: counted and answered, unless its caller already did that.
func (b *Batcher) live(j *job) bool {
	if j.state.Load() != waiting {
		return false
	}
	if j.ctx.Err() == nil {
		return true
	}
	if j.state.CompareAndSwap(waiting, dropped) {
		j.reply <- result{err: dropErr(j.ctx)}
	}
	return false
}

// start moves a job of a formed batch to running; it reports false, after
// dropping the job if nobody has, when the job must not run.
func (b *Batcher) start(j *job) bool {
	if j.ctx.Err() != nil {
		b.live(j)
		return false
	}
	// Written before the state changes, read by Submit only after it sees
	// running (or gets the reply).
	j.started = time.Now()
	if j.state.CompareAndSwap(waiting, running) {
		return true
	}
	b.live(j) // drops it if its context ended and Submit has not yet
	return false
}

// execute runs a batch; loaded tells whether requests were queued beside
// it (it merged several, or left some waiting): only then does size
// tuning measure it, so that an idle model pays nothing for it.
func (b *Batcher) execute(batch []*job, scratch *[][]byte, loaded bool) {
	items := 0
	for _, j := range batch {
		items += j.items
	}
	t0 := time.Now()
	measure := b.size != nil && b.size.sample(t0, loaded)
	var cpu0 time.Duration
	if measure && b.opt.SizeClock == ThreadCPUClock {
		// Keep this goroutine on its thread until the execution is
		// measured, so that the thread's CPU time is the execution's.
		runtime.LockOSThread()
		cpu0, measure = threadCPUTime()
		if !measure {
			runtime.UnlockOSThread()
		}
	}
	inputs := batch[0].inputs
	if len(batch) > 1 {
		inputs = merge(batch, items, scratch)
	}
	t1 := time.Now()
	b.stats.executing.Add(1)
	b.obs.ExecutionStarted()
	outputs, err := b.safeRun(batch[0].ctx, inputs, len(batch))
	b.stats.executing.Add(-1)
	t2 := time.Now()
	var parts [][]tensor.Tensor
	if err == nil {
		parts, err = split(outputs, batch, b.opt.MaxBatchSize > 0)
	}
	t3 := time.Now()
	cost := t3.Sub(t0)
	if measure && b.opt.SizeClock == ThreadCPUClock {
		cpu1, ok := threadCPUTime()
		runtime.UnlockOSThread()
		cost, measure = cpu1-cpu0, ok
	}
	// Count the execution before replying, so that a caller who has its
	// answer finds it in Stats.
	b.stats.execution(items, t0, t1, t2, t3, batch, err == nil)
	b.obs.ObserveExecution(items, t3.Sub(t0), err == nil)
	if measure && err == nil {
		if limit, changed := b.size.observe(items, cost); changed {
			b.log.Debug("batch size cap changed", "max_items", limit, "after_items", items)
		}
	}
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
