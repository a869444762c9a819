package batch

import (
	"context"
	"sync/atomic"
	"time"
)

// DefaultGatherWindow bounds the adaptive gather window when Options leave
// GatherWindow at 0: a batch waits at most this long after its first
// request was queued for requests announced with Expect.
const DefaultGatherWindow = time.Millisecond

// Adaptive gathering. A tiny model runs in microseconds, less than the
// front needs to read and decode one request, so even with many clients
// requests rarely queue behind a busy model and each would run alone: the
// handler that submits wakes the worker, which Go runs at once on the same
// processor, before the other handlers that are ready to run get to
// Submit. With MaxQueueDelay 0 a worker that has formed a batch which is
// not full therefore gathers, in two steps:
//
//  1. It yields the processor (runtime.Gosched) once, and again while the
//     last yield brought requests (at most maxYields times), so that
//     requests whose goroutines are ready to run join this batch. This
//     costs no waiting when nothing else is ready. A worker whose recent
//     yields brought nothing (idleAfter batches in a row) stops yielding,
//     except when a request is announced and on every probeEvery-th batch,
//     so that an idle model or concurrency 1 pays nothing.
//  2. It waits for the requests announced when it got here (Expect: the
//     KServe route announces a request from its start until it is
//     answered), while any is still announced and at most GatherWindow
//     after the batch's first request was queued; each arrival joins the
//     batch, which runs as soon as as many requests as were announced have
//     joined, nothing is announced any more, it is full, or the window has
//     passed.
//
// A lone request with nothing announced never waits on a timer; the window
// only opens when requests are on their way, and its length follows how
// many are. A configured MaxQueueDelay replaces both steps: the batch waits
// out that delay as documented on Options. See docs/batching-adaptive.md.

// expectation is one announced request: counted in Batcher.expected until
// Submit takes it or its caller gives it up, whichever comes first.
// It is also the context that carries it, which saves an allocation per
// request.
type expectation struct {
	context.Context //nolint:containedctx // the context this announcement extends
	b               *Batcher
	over            atomic.Bool
}

type expectKey struct{}

// Value returns e for expectKey, else what the parent holds.
func (e *expectation) Value(key any) any {
	if key == (expectKey{}) {
		return e
	}
	return e.Context.Value(key)
}

// Expect announces a request for this batcher that the caller is about to
// submit: a batch that forms meanwhile may wait for it (see the package
// doc). Pass the returned context to Submit, which takes the announcement
// back; call the returned function (idempotent) once the request is
// answered or will not be submitted, so that no batch waits for it.
// A request announced but slow to arrive (a slow client) holds a batch no
// longer than GatherWindow.
func (b *Batcher) Expect(ctx context.Context) (context.Context, func()) {
	if b.opt.MaxBatchSize == 0 || b.opt.MaxQueueDelay > 0 || b.opt.GatherWindow < 0 {
		return ctx, func() {}
	}
	e := &expectation{Context: ctx, b: b}
	b.expected.Add(1)
	return e, e.giveUp
}

// take ends the announcement that ctx carries for b, if any; Submit calls
// it with b.mu held, as it queues the request, so that a gathering worker
// sees the request queued and no longer announced at once.
func (b *Batcher) take(ctx context.Context) {
	if e, ok := ctx.Value(expectKey{}).(*expectation); ok && e.b == b && e.over.CompareAndSwap(false, true) {
		b.expected.Add(-1)
	}
}

// giveUp ends the announcement of a request that was not (or no longer)
// submitted, and wakes a worker that may be waiting for it.
func (e *expectation) giveUp() {
	if e.over.CompareAndSwap(false, true) {
		e.b.expected.Add(-1)
		e.b.wake()
	}
}

// Yield pacing: maxYields bounds the yields of one gathering; after
// idleAfter gatherings in a row whose yields brought nothing, a worker
// yields only when a request is announced, or on every probeEvery-th batch
// to notice that load came back.
const (
	maxYields  = 16
	idleAfter  = 4
	probeEvery = 16
)

// pace is what a worker remembers across batches: whether yielding lately
// brought requests.
type pace struct {
	fruitless int // gatherings in a row whose yields brought no request
	batches   int
}

// gathering is a worker's state while it forms one batch.
type gathering struct {
	yields   int       // scheduler yields so far; maxYields once done yielding
	before   int       // requests in the batch before the first yield
	yielded  int       // requests in the batch at the last yield
	started  bool      // the announced-requests wait has begun
	awaited  int64     // announced requests the batch still waits for
	deadline time.Time // the window's end
	joined   int       // requests in the batch when awaited was last updated
}

// gatherWait decides, for a batch of n requests whose first was queued at
// first, whether the worker should yield the processor once more (yield:
// requests whose goroutines are ready to run get to Submit first; it yields
// once, and again while the last yield brought requests, at most
// maxYields times, unless p says yielding has lately been fruitless), and
// then how long it should still wait for announced requests to join; 0
// and no yield mean run the batch now. It updates g.
func (b *Batcher) gatherWait(g *gathering, p *pace, n int, first time.Time) (wait time.Duration, yield bool) {
	if b.opt.GatherWindow < 0 {
		return 0, false
	}
	expected := b.expected.Load()
	if g.yields == 0 {
		g.before = n
		if p.fruitless >= idleAfter && expected == 0 && p.batches%probeEvery != 0 {
			g.yields = maxYields // idle: run at once
		}
	}
	if g.yields == 0 || (n > g.yielded && g.yields < maxYields) {
		g.yields++
		g.yielded = n
		return 0, true
	}
	if !g.started {
		g.started, g.awaited, g.deadline, g.joined = true, expected, first.Add(b.opt.GatherWindow), n
	}
	g.awaited -= int64(n - g.joined)
	g.joined = n
	if g.awaited <= 0 || expected <= 0 {
		return 0, false
	}
	return max(time.Until(g.deadline), 0), false
}

// done records in p how the gathering of a batch of n requests went.
func (g *gathering) done(p *pace, n int) {
	if g.yields == 0 {
		return // no gathering (fixed delay, full or blocked at once)
	}
	p.batches++
	if n > g.before {
		p.fruitless = 0
	} else {
		p.fruitless++
	}
}
