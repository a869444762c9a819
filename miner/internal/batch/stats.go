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
	// Rejected counts requests refused because the queue was full. Expired
	// counts requests dropped before running because their deadline passed,
	// Cancelled those dropped because their caller left. Each of them also
	// counts in Fail; none reached the model.
	Rejected, Expired, Cancelled uint64
	// QueueLength is the requests waiting now; Executing the model
	// executions (batches) running now.
	QueueLength, Executing int
}

// Stats accumulates a batcher's counters.
type Stats struct {
	mu        sync.Mutex
	s         Snapshot
	rejected  atomic.Uint64
	expired   atomic.Uint64
	cancelled atomic.Uint64
	executing atomic.Int64
}

func (st *Stats) init() { st.s.Batches = map[int]BatchStat{} }

// drop counts a request dropped before running because ctx ended, and
// returns the error its caller gets: ErrExpired for a deadline, the
// context's error otherwise.
func (st *Stats) drop(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		st.expired.Add(1)
		return ErrExpired
	}
	st.cancelled.Add(1)
	return context.Cause(ctx)
}

func (st *Stats) request(d time.Duration, err error) {
	st.mu.Lock()
	if err != nil {
		st.s.Fail.add(d)
	} else {
		st.s.Success.add(d)
	}
	st.mu.Unlock()
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

// Stats returns a copy of the counters.
func (b *Batcher) Stats() Snapshot {
	b.stats.mu.Lock()
	s := b.stats.s
	s.Batches = maps.Clone(s.Batches)
	b.stats.mu.Unlock()
	s.Rejected = b.stats.rejected.Load()
	s.Expired = b.stats.expired.Load()
	s.Cancelled = b.stats.cancelled.Load()
	s.QueueLength = b.QueueLength()
	s.Executing = int(b.stats.executing.Load())
	return s
}
