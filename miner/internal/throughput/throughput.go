// Package throughput keeps rolling per-second activity of each model
// version, for a dashboard: items and requests per second, average batch,
// and latency percentiles over the last 1, 10 and 60 seconds.
//
// A Window is a ring of one-second slots fed by the batcher's Observer
// hook. The windows cover the last N completed seconds: the current,
// partial second is left out, so a reading does not dip at the start of
// each second. Rates are counts divided by N, including for a version
// younger than N seconds. Latency percentiles come from a histogram per
// slot with four log-spaced buckets per doubling from 0.1 ms to 60 s
// (about ±10% around a bucket's middle), interpolated linearly within the
// bucket.
package throughput

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
)

// Latency buckets: bucket k holds (bounds[k-1], bounds[k]], bucket 0 holds
// (0, minLatency]; anything above the last bound lands in the last bucket.
const (
	minLatency       = 100 * time.Microsecond
	maxLatency       = 60 * time.Second
	bucketsPerDouble = 4
)

var bounds = func() []float64 {
	var b []float64
	for k := 0; ; k++ {
		v := float64(minLatency) * math.Exp2(float64(k)/bucketsPerDouble)
		b = append(b, v)
		if v >= float64(maxLatency) {
			return b
		}
	}
}()

const nBuckets = 78 // len(bounds); checked in tests

// slots: 60 completed seconds and the current one.
const nSlots = 61

func bucket(d time.Duration) int {
	if d <= minLatency {
		return 0
	}
	k := int(math.Ceil(bucketsPerDouble * math.Log2(float64(d)/float64(minLatency))))
	k = min(k, nBuckets-1)
	// Guard against rounding at the edges.
	for k > 0 && float64(d) <= bounds[k-1] {
		k--
	}
	for k < nBuckets-1 && float64(d) > bounds[k] {
		k++
	}
	return k
}

type slot struct {
	sec                              int64 // the Unix second the counts belong to
	items, requests, execs, failures uint64
	latency                          [nBuckets]uint32 // successful requests
}

// Window is the rolling activity of one model version. It implements
// batch.Observer and is safe for concurrent use.
type Window struct {
	now       func() time.Time
	executing atomic.Int64

	mu    sync.Mutex
	slots [nSlots]slot
}

var _ batch.Observer = (*Window)(nil)

// slot returns the slot of second s, emptied if it held an older second.
// w.mu is held.
func (w *Window) slot(s int64) *slot {
	sl := &w.slots[((s%nSlots)+nSlots)%nSlots]
	if sl.sec != s {
		*sl = slot{sec: s}
	}
	return sl
}

// ObserveRequest counts an answered request, and the latency of a
// successful one.
func (w *Window) ObserveRequest(_, total time.Duration, outcome batch.Outcome) {
	s := w.now().Unix()
	w.mu.Lock()
	sl := w.slot(s)
	sl.requests++
	if outcome == batch.OutcomeSuccess {
		sl.latency[bucket(total)]++
	} else {
		sl.failures++
	}
	w.mu.Unlock()
}

// ExecutionStarted counts a batch as executing.
func (w *Window) ExecutionStarted() { w.executing.Add(1) }

// ObserveExecution counts a finished execution; a successful one adds its
// items.
func (w *Window) ObserveExecution(items int, _ time.Duration, ok bool) {
	w.executing.Add(-1)
	if !ok {
		return
	}
	s := w.now().Unix()
	w.mu.Lock()
	sl := w.slot(s)
	sl.items += uint64(items)
	sl.execs++
	w.mu.Unlock()
}

// ObserveItems counts items answered without an execution of the
// window's own: a Redis front's requests, which workers ran.
func (w *Window) ObserveItems(items int) {
	s := w.now().Unix()
	w.mu.Lock()
	w.slot(s).items += uint64(items)
	w.mu.Unlock()
}

// Executing returns the batches running now.
func (w *Window) Executing() int { return int(w.executing.Load()) }

// agg sums the slots of a window.
type agg struct {
	items, requests, execs uint64
	latency                [nBuckets]uint64
	n                      uint64 // successful requests
}

// Windows returns the 1 s, 10 s and 60 s windows ending at the start of the
// current second.
func (w *Window) Windows() api.ThroughputWindows {
	cur := w.now().Unix()
	spans := [3]int64{1, 10, 60}
	var sums [3]agg
	w.mu.Lock()
	for i := range w.slots {
		sl := &w.slots[i]
		age := cur - sl.sec // 1 for the last completed second
		if age < 1 || age > 60 {
			continue
		}
		for k, n := range spans {
			if age > n {
				continue
			}
			a := &sums[k]
			a.items += sl.items
			a.requests += sl.requests
			a.execs += sl.execs
			for b, c := range sl.latency {
				a.latency[b] += uint64(c)
				a.n += uint64(c)
			}
		}
	}
	w.mu.Unlock()
	return api.ThroughputWindows{Last1s: sums[0].window(1), Last10s: sums[1].window(10), Last60s: sums[2].window(60)}
}

func (a *agg) window(secs float64) api.ThroughputWindow {
	w := api.ThroughputWindow{
		InferPerS:    float64(a.items) / secs,
		RequestsPerS: float64(a.requests) / secs,
		P50Ms:        a.quantile(0.50),
		P95Ms:        a.quantile(0.95),
		P99Ms:        a.quantile(0.99),
	}
	if a.execs > 0 {
		w.AvgBatch = float64(a.items) / float64(a.execs)
	}
	return w
}

// quantile returns the q-quantile of the latencies in milliseconds,
// interpolated within its bucket; 0 without any.
func (a *agg) quantile(q float64) float64 {
	if a.n == 0 {
		return 0
	}
	rank := q * float64(a.n)
	cum := 0.0
	for b, c := range a.latency {
		if c == 0 {
			continue
		}
		if next := cum + float64(c); next >= rank || b == nBuckets-1 {
			lo := 0.0
			if b > 0 {
				lo = bounds[b-1]
			}
			frac := max(rank-cum, 0) / float64(c)
			return (lo + frac*(bounds[b]-lo)) / float64(time.Millisecond)
		}
		cum += float64(c)
	}
	return bounds[nBuckets-1] / float64(time.Millisecond)
}

// Key names a model version.
type Key struct{ Model, Version string }

// Tracker holds the Window of every model version it was asked for. It is
// safe for concurrent use.
type Tracker struct {
	now     func() time.Time
	mu      sync.Mutex
	windows map[Key]*Window
}

// New returns a tracker reading time from now (time.Now if nil).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, windows: map[Key]*Window{}}
}

// Observer returns the Window of a model version, creating it on first use.
// A reloaded version gets the same Window, so its windows carry on.
func (t *Tracker) Observer(model, version string) *Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := Key{model, version}
	w := t.windows[k]
	if w == nil {
		w = &Window{now: t.now}
		t.windows[k] = w
	}
	return w
}

// Window returns the Window of a model version, if it has one.
func (t *Tracker) Window(model, version string) (*Window, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows[Key{model, version}]
	return w, ok
}

// Keys returns the model versions with a Window, sorted.
func (t *Tracker) Keys() []Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]Key, 0, len(t.windows))
	for k := range t.windows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int { return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version)) })
	return keys
}

// End returns the end of the windows as of now: the start of the current
// second.
func (t *Tracker) End() time.Time { return time.Unix(t.now().Unix(), 0).UTC() }
