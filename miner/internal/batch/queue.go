package batch

import (
	"container/heap"
	"math"
	"time"
)

// Priority orders a model's waiting requests: larger runs sooner, and
// requests of equal priority run in arrival order.
//
// The scale is shared by every source of priority. KServe priority levels
// take the integers 1..L of a model with L levels (see LevelPriority): one
// unit per level. A later source, such as the caller's stake, maps onto the
// same scale, for example 1 + (L-1)*share for a share in [0, 1] of the
// stake, so that it lands between the levels it should sit between.
//
// Waiting raises a request's effective priority by one unit per
// Options.AgingPeriod:
//
//	effective = priority + waited/AgingPeriod
//
// so a request that waited one AgingPeriod ties a new request one level
// above it, and no request starves. Since every queued request ages at the
// same rate, the order between two requests never changes while they wait:
// the queue sorts on enqueue time minus priority*AgingPeriod, earliest
// first, as if a request of priority p had arrived p AgingPeriods earlier.
//
// A request of priority p is overtaken only by requests already queued and
// by requests of priority q > p that arrive within (q-p)*AgingPeriod after
// it. So with priorities in [lo, hi] it runs at the latest after
// (hi-lo)*AgingPeriod plus the time to run the requests queued at that
// moment, at most the queue's bound (MaxQueueSize).
type Priority float64

// DefaultAgingPeriod is the AgingPeriod of Options that leave it 0: one
// second of waiting is worth one priority level.
const DefaultAgingPeriod = time.Second

// LevelPriority returns the Priority of KServe (Triton) priority level
// level, where 1 is the highest, on a model with levels priority levels:
// levels+1-level, so level 1 gets levels and level levels gets 1. With
// levels 0 (priorities off) every request gets 1. The caller resolves level
// 0 to the model's default level and rejects levels out of range; here
// they are clamped to 1..levels.
func LevelPriority(levels, level uint64) Priority {
	if levels == 0 {
		return 1
	}
	level = min(max(level, 1), levels)
	return Priority(levels + 1 - level)
}

// rank is the queue's sort key for a request of priority p enqueued at
// offset since the batcher started: smaller runs sooner. It saturates
// instead of overflowing for absurd priorities; NaN counts as 0.
func rank(since time.Duration, p Priority, aging time.Duration) int64 {
	shift := float64(p) * float64(aging)
	switch {
	case math.IsNaN(shift):
		shift = 0
	case shift > 1<<61:
		shift = 1 << 61
	case shift < -(1 << 61):
		shift = -(1 << 61)
	}
	return int64(since) - int64(shift)
}

// queue is the waiting requests as a binary heap on (rank, seq). Each job
// knows its index, so a caller who leaves can be removed at once.
type queue []*job

func (q queue) Len() int { return len(q) }

func (q queue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].seq < q[j].seq
}

func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *queue) Push(x any) {
	j := x.(*job)
	j.index = len(*q)
	*q = append(*q, j)
}

func (q *queue) Pop() any {
	old := *q
	n := len(old)
	j := old[n-1]
	old[n-1] = nil
	j.index = -1
	*q = old[:n-1]
	return j
}

func (q *queue) push(j *job) { heap.Push(q, j) }

func (q *queue) pop() *job { return heap.Pop(q).(*job) }

// remove takes j out of the queue if it is still there.
func (q *queue) remove(j *job) bool {
	if j.index < 0 || j.index >= len(*q) || (*q)[j.index] != j {
		return false
	}
	heap.Remove(q, j.index)
	return true
}
