package redisq

import (
	"context"
	"sync"
	"sync/atomic"
)

// Coalescing. A front XADDs one entry per request and a worker answers one
// request per MULTI; with many callers at once that is one round trip to
// Redis per request on each side. A coalescer lets callers that arrive
// while a write is in flight go out together in the next write (one
// pipeline), with no timer: a caller that finds no write in flight writes
// its own item at once, so a lone request pays nothing. The items that
// queued meanwhile are written by a goroutine the first writer hands over
// to, so no caller waits for a write other than its own and the one in
// flight when it came; that goroutine ends once the queue is empty, so a
// coalescer needs no closing.

// op states: queued until a write takes it or its caller withdraws it.
const (
	opQueued int32 = iota
	opTaken
	opWithdrawn
)

// op is one caller's item waiting in a coalescer: its context and where its
// outcome goes.
type op struct {
	ctx   context.Context //nolint:containedctx // the caller's, checked before its item is written
	state atomic.Int32
	done  chan error // buffered 1: the write's outcome for this item
}

// init readies o for a new item under ctx; a recycled o keeps its channel.
func (o *op) init(ctx context.Context) {
	o.ctx = ctx
	o.state.Store(opQueued)
	if o.done == nil {
		o.done = make(chan error, 1)
	}
}

// reusable reports whether o may serve another item once do returned: its
// write took it and settled it, and nothing refers to it any more. A
// withdrawn op may still sit in the coalescer's queue.
func (o *op) reusable() bool { return o.state.Load() == opTaken }

// take claims o for a write. It fails when the caller withdrew it, or when
// its context has ended: then o is withdrawn and settled with the
// context's error, never written.
func (o *op) take() bool {
	if err := o.ctx.Err(); err != nil {
		if o.state.CompareAndSwap(opQueued, opWithdrawn) {
			o.settle(err)
		}
		return false
	}
	return o.state.CompareAndSwap(opQueued, opTaken)
}

// settle reports the write's outcome to o's caller (at most once per take).
func (o *op) settle(err error) { o.done <- err }

// item is what a coalescer queues: something that carries an op.
type item interface{ base() *op }

// coalescer writes the items its callers hand it, several per write when
// they arrive while a write is in flight.
type coalescer[T item] struct {
	// write sends batch (every item taken, none withdrawn) and settles each
	// item. It runs on one goroutine at a time.
	write func(ctx context.Context, batch []T)
	ctx   context.Context //nolint:containedctx // the owner's lifetime: writes run under it

	mu      sync.Mutex
	queue   []T  // guarded by mu
	spare   []T  // guarded by mu: an emptied batch's slice, reused
	writing bool // guarded by mu: a write is in flight or about to be
}

// do writes it, alone when no write is in flight, else with the items
// queued meanwhile, and returns the write's outcome for it. When its
// context ends before a write took it, it is not written and do returns the
// context's error; once taken, do waits for the outcome.
func (c *coalescer[T]) do(it T) error {
	o := it.base()
	c.mu.Lock()
	c.queue = append(c.queue, it)
	lead := !c.writing
	c.writing = true
	c.mu.Unlock()
	if lead {
		c.flush(true)
	}
	select {
	case err := <-o.done:
		return err
	case <-o.ctx.Done():
		if o.state.CompareAndSwap(opQueued, opWithdrawn) {
			return o.ctx.Err()
		}
		return <-o.done
	}
}

// flush writes what is queued: once when a caller writes its own item, or
// until the queue is empty. A caller that leaves items behind hands the
// writing over to a goroutine of the coalescer's, which ends once the queue
// is empty.
func (c *coalescer[T]) flush(once bool) {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue, c.spare = c.spare, nil
		if len(batch) == 0 {
			c.writing = false
			c.spare = batch
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		taken := batch[:0]
		for _, it := range batch {
			if it.base().take() {
				taken = append(taken, it)
			}
		}
		if len(taken) > 0 {
			c.write(c.ctx, taken)
		}
		clear(batch) // drop the references for the GC

		c.mu.Lock()
		c.spare = batch[:0]
		more := len(c.queue) > 0
		if !more {
			c.writing = false
		}
		c.mu.Unlock()
		if !more {
			return
		}
		if once {
			go c.flush(false)
			return
		}
	}
}
