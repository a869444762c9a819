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
// requests rarely queue behind a busy model and each runs alone. The
// batcher cannot tell from arrivals alone whether another request is
// coming (at concurrency 1 the next one waits for this answer), so the
// front tells it: an edge that has a request's body in hand calls Expect
// before decoding it, and Submit takes the announcement back when the
// request joins the queue.
//
// With MaxQueueDelay 0, a worker that has formed a batch which is not full
// waits for the requests announced when it formed it, while any are still
// announced, for at most the gather window after the batch's first request
// was queued; each arrival joins the batch, and the batch runs as soon as
// as many requests as were announced have joined, nothing is announced any
// more, it is full, or the window has passed. When nothing is announced (an
// idle model, or concurrency 1) the batch runs at once, as before: the
// window only ever opens when requests are on their way, and its length
// follows how many are. A configured MaxQueueDelay replaces it: the batch
// then waits out that delay as documented on Options.

// expectation is one announced request: counted in Batcher.expected until
// Submit takes it or its caller gives it up, whichever comes first.
type expectation struct {
	b    *Batcher
	over atomic.Bool
}

type expectKey struct{}

// Expect announces a request for this batcher that the caller is about to
// submit: a batch that forms meanwhile may wait for it (see the package
// doc). Pass the returned context to Submit, which takes the announcement
// back; call the returned function (idempotent) once the request is
// answered or will not be submitted, so that no batch waits for it.
// Announce only requests whose bytes are already in: the window must not
// wait on a slow client.
func (b *Batcher) Expect(ctx context.Context) (context.Context, func()) {
	if b.opt.MaxBatchSize == 0 || b.opt.MaxQueueDelay > 0 || b.opt.GatherWindow < 0 {
		return ctx, func() {}
	}
	e := &expectation{b: b}
	b.expected.Add(1)
	return context.WithValue(ctx, expectKey{}, e), e.giveUp
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

// gathering is a worker's state while it forms one batch under the
// adaptive window.
type gathering struct {
	started  bool
	awaited  int64     // announced requests the batch still waits for
	deadline time.Time // the window's end
	joined   int       // requests in the batch when awaited was last updated
}

// gatherWait reports how long the worker should still wait for announced
// requests to join a batch of n requests whose first was queued at first,
// updating g; 0 means run the batch now.
func (b *Batcher) gatherWait(g *gathering, n int, first time.Time) time.Duration {
	if b.opt.GatherWindow < 0 {
		return 0
	}
	expected := b.expected.Load()
	if !g.started {
		window := b.opt.GatherWindow
		if window == 0 {
			window = DefaultGatherWindow
		}
		*g = gathering{started: true, awaited: expected, deadline: first.Add(window), joined: n}
	}
	g.awaited -= int64(n - g.joined)
	g.joined = n
	if g.awaited <= 0 || expected <= 0 {
		return 0
	}
	return max(time.Until(g.deadline), 0)
}
