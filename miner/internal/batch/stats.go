package batch

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Duration is a count of events and their summed time, as the statistics
// extension reports them.
type Duration struct {
	Count uint64
	Ns    uint64
}

func (d *Duration) add(t time.Duration) {
	d.Count++
	d.Ns += uint64(max(t, 0))
}

// BatchStat is the time spent on executions of one batch size.
type BatchStat struct {
	ComputeInput, ComputeInfer, ComputeOutput Duration
}

// Snapshot is a copy of a batcher's counters.
type Snapshot struct {
	// InferenceCount counts items (a request of batch 4 adds 4);
	// ExecutionCount counts model executions. Their ratio is the average
	// batch size.
	InferenceCount, ExecutionCount uint64
	// Success and Fail are per request, from enqueue to reply.
	Success, Fail Duration
	// Queue is per request, from enqueue until its batch started.
	Queue Duration
	// Compute phases are per request: merging inputs, the run, splitting.
	ComputeInput, ComputeInfer, ComputeOutput Duration
	Batches                                   map[int]BatchStat
	LastInference                             time.Time
	// Each request in Fail counts in exactly one of these, by the Outcome
	// the observer is told: Rejected (the queue was full), Cancelled (its
	// caller left, before or while its batch ran), Expired (its deadline
	// passed, before or while its batch ran) and Failed (the model run
	// failed). Their sum is Fail.Count.
	Rejected, Cancelled, Expired, Failed uint64
	// QueueLength is the requests waiting now; Executing the model
	// executions (batches) running now; BatchLimit the most items a batch
	// may hold now (Batcher.Limit).
	QueueLength, Executing, BatchLimit int
}

// Stats accumulates the counters of a model version. A batcher counts into
// its Options.Stats; batchers that replace one another for the same
// version (a reload) share one Stats, so that its counters never go back.
type Stats struct {
	mu        sync.Mutex
	s         Snapshot
	executing atomic.Int64
}

// NewStats returns zeroed counters.
func NewStats() *Stats { return &Stats{s: Snapshot{Batches: map[int]BatchStat{}}} }

// dropErr returns the error the caller of a request dropped before running
// because ctx ended gets: ErrExpired for a deadline, the context's error
// otherwise.
func dropErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrExpired
	}
	return context.Cause(ctx)
}

// request counts one answered request in its one outcome.
func (st *Stats) request(d time.Duration, o Outcome) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if o == OutcomeSuccess {
		st.s.Success.add(d)
		return
	}
	st.s.Fail.add(d)
	switch o {
	case OutcomeRejected:
		st.s.Rejected++
	case OutcomeCancelled:
		st.s.Cancelled++
	case OutcomeExpired:
		st.s.Expired++
	default:
		st.s.Failed++
	}
}

func (st *Stats) execution(items int, t0, t1, t2, t3 time.Time, batch []*job, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ok {
		st.s.InferenceCount += uint64(items)
		st.s.ExecutionCount++
		st.s.LastInference = t3
	}
	for _, j := range batch {
		st.s.Queue.add(t0.Sub(j.enqueued))
		st.s.ComputeInput.add(t1.Sub(t0))
		st.s.ComputeInfer.add(t2.Sub(t1))
		st.s.ComputeOutput.add(t3.Sub(t2))
	}
	bs := st.s.Batches[items]
	bs.ComputeInput.add(t1.Sub(t0))
	bs.ComputeInfer.add(t2.Sub(t1))
	bs.ComputeOutput.add(t3.Sub(t2))
	st.s.Batches[items] = bs
}

// Snapshot returns a copy of the counters. QueueLength and BatchLimit are
// 0: they are the batcher's (see Batcher.Stats).
func (st *Stats) Snapshot() Snapshot {
	st.mu.Lock()
	s := st.s
	s.Batches = maps.Clone(s.Batches)
	st.mu.Unlock()
	s.Executing = int(st.executing.Load())
	return s
}

// Stats returns a copy of the counters, with the batcher's queue length and
// batch size cap.
func (b *Batcher) Stats() Snapshot {
	s := b.stats.Snapshot()
	s.QueueLength = b.QueueLength()
	s.BatchLimit = b.Limit()
	return s
}
