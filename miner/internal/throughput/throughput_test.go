package throughput

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/batch"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 22, 1, 40, 0, 0, time.UTC)} }

func TestBuckets(t *testing.T) {
	if len(bounds) != nBuckets {
		t.Fatalf("len(bounds) = %d, nBuckets = %d", len(bounds), nBuckets)
	}
	if bounds[nBuckets-1] < float64(maxLatency) || bounds[nBuckets-2] >= float64(maxLatency) {
		t.Errorf("last bounds %v, %v; want the first at or above %v", bounds[nBuckets-2], bounds[nBuckets-1], maxLatency)
	}
	for k, b := range bounds {
		d := time.Duration(b)
		if got := bucket(d); got != k && float64(d) == b {
			t.Errorf("bucket(%v) = %d, want %d (upper bound)", d, got, k)
		}
		if got := bucket(d + 1); got != min(k+1, nBuckets-1) {
			t.Errorf("bucket(%v+1ns) = %d, want %d", d, got, min(k+1, nBuckets-1))
		}
	}
	if bucket(0) != 0 || bucket(-time.Second) != 0 || bucket(time.Hour) != nBuckets-1 {
		t.Errorf("bucket edges: %d %d %d", bucket(0), bucket(-time.Second), bucket(time.Hour))
	}
}

func TestWindows(t *testing.T) {
	clk := newClock()
	tr := New(clk.now)
	w := tr.Observer("m", "1")
	if tr.Observer("m", "1") != w {
		t.Fatal("second Observer call returned a new Window")
	}
	// Second 0: 10 executions of 4 items, 40 requests of 10 ms, 2 failures.
	for range 10 {
		w.ExecutionStarted()
		w.ObserveExecution(4, time.Millisecond, true)
	}
	for range 40 {
		w.ObserveRequest(0, 10*time.Millisecond, batch.OutcomeSuccess)
	}
	w.ObserveRequest(-1, 0, batch.OutcomeRejected)
	w.ExecutionStarted()
	w.ObserveExecution(2, time.Millisecond, false) // failed: no items
	w.ObserveRequest(0, time.Second, batch.OutcomeFailure)
	if got := w.Executing(); got != 0 {
		t.Errorf("Executing = %d, want 0", got)
	}

	// The current second is not in any window yet.
	if got := w.Windows(); got.Last60s.RequestsPerS != 0 || got.Last1s.InferPerS != 0 {
		t.Errorf("windows include the current second: %+v", got)
	}
	clk.advance(time.Second)
	got := w.Windows()
	if got.Last1s.InferPerS != 40 || got.Last1s.RequestsPerS != 42 || got.Last1s.AvgBatch != 4 {
		t.Errorf("1s window: %+v; want 40 items/s, 42 requests/s, batch 4", got.Last1s)
	}
	if got.Last10s.InferPerS != 4 || got.Last10s.RequestsPerS != 4.2 || got.Last10s.AvgBatch != 4 {
		t.Errorf("10s window: %+v; want 4 items/s, 4.2 requests/s, batch 4", got.Last10s)
	}
	if !approx(got.Last60s.InferPerS, 40.0/60) {
		t.Errorf("60s window: %+v; want %v items/s", got.Last60s, 40.0/60)
	}
	for _, p := range []float64{got.Last1s.P50Ms, got.Last1s.P99Ms, got.Last60s.P95Ms} {
		if !within(p, 10) {
			t.Errorf("percentile %v ms, want 10 ms within a bucket", p)
		}
	}

	// Five seconds later: out of the 1s window, still in 10s and 60s.
	clk.advance(5 * time.Second)
	got = w.Windows()
	if got.Last1s.RequestsPerS != 0 || got.Last1s.P50Ms != 0 || got.Last1s.AvgBatch != 0 || got.Last10s.InferPerS != 4 {
		t.Errorf("after 6 s: 1s %+v, 10s %+v", got.Last1s, got.Last10s)
	}
	// Sixty seconds after it ended, the second has left every window ...
	clk.advance(54 * time.Second)
	if got = w.Windows(); got.Last60s.InferPerS == 0 {
		t.Errorf("after 60 s the second should still be in the 60s window: %+v", got.Last60s)
	}
	clk.advance(time.Second)
	if got = w.Windows(); got.Last60s.InferPerS != 0 || got.Last60s.RequestsPerS != 0 {
		t.Errorf("after 61 s: 60s window %+v, want empty", got.Last60s)
	}
	// ... and its slot is reused for a new second without leftovers.
	clk.advance(nSlots * time.Second) // the slot of the first second
	w.ObserveRequest(0, time.Millisecond, batch.OutcomeSuccess)
	clk.advance(time.Second)
	if got = w.Windows(); got.Last1s.RequestsPerS != 1 || got.Last1s.InferPerS != 0 {
		t.Errorf("reused slot: %+v, want 1 request and no items", got.Last1s)
	}
}

func TestPercentiles(t *testing.T) {
	clk := newClock()
	w := New(clk.now).Observer("m", "1")
	// 1..1000 ms, one each, spread over ten seconds.
	for i := 1; i <= 1000; i++ {
		w.ObserveRequest(0, time.Duration(i)*time.Millisecond, batch.OutcomeSuccess)
		if i%100 == 0 {
			clk.advance(time.Second)
		}
	}
	got := w.Windows().Last10s
	for _, c := range []struct{ got, want float64 }{{got.P50Ms, 500}, {got.P95Ms, 950}, {got.P99Ms, 990}} {
		if !within(c.got, c.want) {
			t.Errorf("percentile %v ms, want %v ms within a bucket", c.got, c.want)
		}
	}
	if got.RequestsPerS != 100 {
		t.Errorf("requests/s = %v, want 100", got.RequestsPerS)
	}
}

func TestConcurrent(t *testing.T) {
	tr := New(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			w := tr.Observer("m", string(rune('a'+g%2)))
			for i := range 1000 {
				w.ExecutionStarted()
				w.ObserveExecution(1, 0, true)
				w.ObserveRequest(0, time.Duration(i)*time.Microsecond, batch.OutcomeSuccess)
				if i%100 == 0 {
					w.Windows()
				}
			}
		})
	}
	wg.Wait()
	if keys := tr.Keys(); len(keys) != 2 || keys[0] != (Key{"m", "a"}) {
		t.Errorf("Keys = %v", keys)
	}
}

func TestNoAllocs(t *testing.T) {
	w := New(nil).Observer("m", "1")
	if got := testing.AllocsPerRun(1000, func() {
		w.ExecutionStarted()
		w.ObserveExecution(4, time.Millisecond, true)
		w.ObserveRequest(time.Millisecond, 3*time.Millisecond, batch.OutcomeSuccess)
	}); got != 0 {
		t.Errorf("%v allocations per observation", got)
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// within reports whether got is within the resolution of the bucket of want.
func within(got, want float64) bool {
	r := math.Exp2(1.0 / bucketsPerDouble)
	return got >= want/r && got <= want*r
}

func BenchmarkObserve(b *testing.B) {
	w := New(nil).Observer("m", "1")
	for b.Loop() {
		w.ObserveRequest(time.Millisecond, 3*time.Millisecond, batch.OutcomeSuccess)
	}
}

// TestObserveItems: items counted without executions (a Redis front's view)
// add to infer_per_s and leave avg_batch alone.
func TestObserveItems(t *testing.T) {
	clk := newClock()
	w := New(clk.now).Observer("m", "1")
	for _, items := range []int{1, 3, 2} {
		w.ObserveRequest(0, 5*time.Millisecond, batch.OutcomeSuccess)
		w.ObserveItems(items)
	}
	clk.advance(time.Second)
	got := w.Windows().Last1s
	if got.InferPerS != 6 || got.RequestsPerS != 3 || got.AvgBatch != 0 {
		t.Errorf("1s window %+v; want 6 items/s, 3 requests/s, no avg batch", got)
	}
}
