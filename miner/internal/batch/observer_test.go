package batch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/models/tensor"
)

var _ Observer = (*recorder)(nil)

// recorder is an Observer that keeps every call.
type recorder struct {
	mu        sync.Mutex
	requests  []observed
	started   int
	execs     []execution
	executing int // started and not yet observed, at the last call
}

type observed struct {
	Queue, Total time.Duration
	Outcome      Outcome
}

type execution struct {
	Items   int
	Compute time.Duration
	OK      bool
}

func (r *recorder) ObserveRequest(queue, total time.Duration, o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, observed{queue, total, o})
}

func (r *recorder) ExecutionStarted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	r.executing++
}

func (r *recorder) ObserveExecution(items int, compute time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.executing--
	r.execs = append(r.execs, execution{items, compute, ok})
}

func (r *recorder) take() ([]observed, []execution) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reqs, execs := r.requests, r.execs
	r.requests, r.execs = nil, nil
	return reqs, execs
}

// TestObserver checks what the observer sees of each kind of request, with
// synctest time so the durations are exact.
func TestObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs, all := &recorder{}, &recorder{}
		r := &fakeRunner{block: true, delay: 3 * time.Millisecond}
		r.hook = func(call int, _ []tensor.Tensor) error {
			if call == 2 {
				return errFake
			}
			return nil
		}
		b := start(t, r, Options{MaxBatchSize: 4, MaxQueueSize: 2, Observer: Observers(obs, all)})
		ctx := context.Background()

		// Call 0 runs alone; 1 and 2 queue and merge into call 1.
		busy := submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs())
		time.Sleep(time.Millisecond)
		q1 := submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs())
		time.Sleep(time.Millisecond)
		q2 := submit(ctx, b, req{id: 2, items: 2, width: 2}.inputs())
		// Queue full.
		if _, err := b.Submit(ctx, req{id: 3, items: 1, width: 2}.inputs(), 0); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Submit on a full queue: %v", err)
		}
		if got := obs.started; got != 1 {
			t.Errorf("ExecutionStarted called %d times while call 0 runs, want 1", got)
		}
		time.Sleep(time.Millisecond)
		r.unblock()
		time.Sleep(10 * time.Millisecond)
		for _, ch := range []<-chan answer{busy, q1, q2} {
			if a := answered(t, ch); a.err != nil {
				t.Fatal(a.err)
			}
		}
		reqs, execs := obs.take()
		want := []observed{
			{-1, 0, OutcomeRejected},
			{0, 6 * time.Millisecond, OutcomeSuccess}, // 3 ms blocked + 3 ms run
			// Queued until call 0 ended (at 6 ms), then ran 3 ms.
			{5 * time.Millisecond, 8 * time.Millisecond, OutcomeSuccess},
			{4 * time.Millisecond, 7 * time.Millisecond, OutcomeSuccess},
		}
		sortObserved(reqs)
		sortObserved(want)
		if diff := cmp.Diff(want, reqs); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]execution{{1, 6 * time.Millisecond, true}, {3, 3 * time.Millisecond, true}}, execs); diff != "" {
			t.Errorf("executions (-want +got):\n%s", diff)
		}

		// A backend failure (call 2).
		if _, err := b.Submit(ctx, req{id: 4, items: 2, width: 2}.inputs(), 0); !errors.Is(err, errFake) {
			t.Fatalf("Submit: %v, want %v", err, errFake)
		}
		reqs, execs = obs.take()
		if diff := cmp.Diff([]observed{{0, 3 * time.Millisecond, OutcomeFailure}}, reqs); diff != "" {
			t.Errorf("failed request (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]execution{{2, 3 * time.Millisecond, false}}, execs); diff != "" {
			t.Errorf("failed execution (-want +got):\n%s", diff)
		}

		// Dropped while queued: cancelled, and expired.
		r.mu.Lock()
		r.block = true
		r.mu.Unlock()
		busy = submit(ctx, b, req{id: 5, items: 1, width: 2}.inputs())
		cctx, cancel := context.WithCancel(ctx)
		gone := submit(cctx, b, req{id: 6, items: 1, width: 2}.inputs())
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Millisecond)
		defer dcancel()
		late := submit(dctx, b, req{id: 7, items: 1, width: 2}.inputs())
		time.Sleep(time.Millisecond)
		cancel()
		answered(t, gone)
		time.Sleep(2 * time.Millisecond)
		if a := answered(t, late); !errors.Is(a.err, ErrExpired) {
			t.Errorf("late request: %v, want %v", a.err, ErrExpired)
		}
		r.unblock()
		time.Sleep(10 * time.Millisecond)
		answered(t, busy)
		reqs, _ = obs.take()
		want = []observed{
			{-1, time.Millisecond, OutcomeCancelled},
			{-1, 2 * time.Millisecond, OutcomeExpired},
			{0, 6 * time.Millisecond, OutcomeSuccess},
		}
		if diff := cmp.Diff(want, reqs); diff != "" {
			t.Errorf("dropped requests (-want +got):\n%s", diff)
		}
		if st := b.Stats(); st.Cancelled != 1 || st.Expired != 1 || st.Rejected != 1 || st.Failed != 1 {
			t.Errorf("Stats: Cancelled %d, Expired %d, Rejected %d, Failed %d; want 1 each", st.Cancelled, st.Expired, st.Rejected, st.Failed)
		}
		checkSums(t, b.Stats(), all)
	})
}

// checkSums checks that Stats counted each request the observer was told
// of once, in the same outcome, and that the outcomes add up to Fail.
func checkSums(t *testing.T, st Snapshot, obs *recorder) {
	t.Helper()
	var told [OutcomeExpired + 1]uint64
	for _, r := range obs.requests {
		told[r.Outcome]++
	}
	got := [OutcomeExpired + 1]uint64{st.Success.Count, st.Failed, st.Rejected, st.Cancelled, st.Expired}
	if got != told {
		t.Errorf("Stats by outcome (success, failure, rejected, cancelled, expired) %v; the observer was told %v", got, told)
	}
	if sum := st.Failed + st.Rejected + st.Cancelled + st.Expired; sum != st.Fail.Count {
		t.Errorf("Fail %d, but Failed+Rejected+Cancelled+Expired = %d", st.Fail.Count, sum)
	}
}

// TestObserverLeftWhileRunning checks a caller that leaves while its batch
// runs: it started, so its queue time is known, and it ended cancelled.
func TestObserverLeftWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &recorder{}
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4, Observer: obs})
		ctx, cancel := context.WithCancel(context.Background())
		ch := submit(ctx, b, req{id: 1, items: 1, width: 2}.inputs())
		time.Sleep(time.Millisecond)
		cancel()
		if a := answered(t, ch); !errors.Is(a.err, context.Canceled) {
			t.Errorf("Submit: %v, want %v", a.err, context.Canceled)
		}
		r.unblock()
		synctest.Wait()
		reqs, execs := obs.take()
		if diff := cmp.Diff([]observed{{0, time.Millisecond, OutcomeCancelled}}, reqs); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		if len(execs) != 1 || obs.executing != 0 {
			t.Errorf("executions %v, executing %d; want one, 0", execs, obs.executing)
		}
		obs.requests = reqs
		if st := b.Stats(); st.Cancelled != 1 || st.Fail.Count != 1 {
			t.Errorf("Stats: Cancelled %d, Fail %d; want 1, 1 (cancelled while running is cancelled)", st.Cancelled, st.Fail.Count)
		}
		checkSums(t, b.Stats(), obs)
	})
}

// TestStatsOutliveBatcher checks that a batcher given the Stats of the one
// it replaces (a reload) carries on its counters.
func TestStatsOutliveBatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := NewStats()
		ctx := context.Background()
		for i := range 2 {
			b := New(&fakeRunner{}, Options{MaxBatchSize: 4, Stats: st})
			if _, err := b.Submit(ctx, req{id: i, items: 2, width: 2}.inputs(), 0); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if s := b.Stats(); s.Success.Count != uint64(i+1) || s.InferenceCount != uint64(2*(i+1)) {
				t.Errorf("batcher %d: Success %d, InferenceCount %d; want %d, %d", i, s.Success.Count, s.InferenceCount, i+1, 2*(i+1))
			}
		}
	})
}

func TestObservers(t *testing.T) {
	a, c := &recorder{}, &recorder{}
	o := Observers(a, nil, c)
	o.ObserveRequest(1, 2, OutcomeExpired)
	o.ExecutionStarted()
	o.ObserveExecution(3, 4, true)
	for _, r := range []*recorder{a, c} {
		if len(r.requests) != 1 || r.started != 1 || len(r.execs) != 1 {
			t.Errorf("fan-out: %+v", r)
		}
	}
	if _, ok := Observers().(nopObserver); !ok {
		t.Errorf("Observers() = %T, want the no-op", Observers())
	}
	if Observers(a) != Observer(a) {
		t.Errorf("Observers(a) is not a")
	}
	if got := testing.AllocsPerRun(100, func() { o.ObserveRequest(1, 2, OutcomeSuccess) }); got != 0 {
		t.Errorf("fan-out allocates %v per call", got)
	}
}

func sortObserved(s []observed) {
	// Order by outcome, then total: arrival order of answers is not fixed.
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j].Outcome < s[i].Outcome || (s[j].Outcome == s[i].Outcome && s[j].Total < s[i].Total) {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}
