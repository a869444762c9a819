package batch

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// runIDs returns, for each call the runner saw, the ids of the requests in
// it (one per row; the requests here have one item each).
func (r *fakeRunner) runIDs() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]int
	for _, c := range r.calls {
		x := c.inputs[0]
		width := int(x.Shape[1])
		var ids []int
		for row := range int(x.Shape[0]) {
			ids = append(ids, int(x.Ints[row*width]/100))
		}
		out = append(out, ids)
	}
	return out
}

// TestPriorityOrder queues requests of several priorities behind a busy
// model (request 0) and checks the order, and grouping, of the runs that
// follow.
func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		queued []Priority // request i+1 has priority queued[i]
		want   [][]int    // request ids of each run after request 0's
	}{
		{"higher first", 1, []Priority{1, 1, 2, 2}, [][]int{{3}, {4}, {1}, {2}}},
		{"arrival order within a level", 1, []Priority{1, 1, 1}, [][]int{{1}, {2}, {3}}},
		{"three levels", 1, []Priority{1, 2, 3, 2, 1}, [][]int{{3}, {2}, {4}, {1}, {5}}},
		{"between levels", 1, []Priority{1, 1.5, 2}, [][]int{{3}, {2}, {1}}},
		{"negative is below 0", 1, []Priority{0, -1, 0}, [][]int{{1}, {3}, {2}}},
		{"a batch takes the highest first", 2, []Priority{1, 1, 3, 2, 3}, [][]int{{3, 5}, {4, 1}, {2}}},
		{"a full batch of high ones leaves the low ones", 3, []Priority{1, 2, 2, 2, 1}, [][]int{{2, 3, 4}, {1, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true}
				b := start(t, r, Options{MaxBatchSize: tt.max})
				ctx := context.Background()
				busy := submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs())
				var chans []<-chan answer
				for i, p := range tt.queued {
					chans = append(chans, submitAt(ctx, b, req{id: i + 1, items: 1, width: 2}.inputs(), p))
				}
				r.unblock()
				answered(t, busy)
				for i, ch := range chans {
					if a := answered(t, ch); a.err != nil {
						t.Errorf("request %d: %v", i+1, a.err)
					}
				}
				got := r.runIDs()
				if diff := gocmp.Diff(tt.want, got[1:]); diff != "" {
					t.Errorf("priorities %v: runs after the busy one differ (-want +got):\n%s", tt.queued, diff)
				}
			})
		})
	}
}

// TestAgingRule checks the aging rule at its edge: a low request (priority
// 1) that has waited one AgingPeriod ties a new high request (priority 2)
// and, being older, runs first; a moment less and the high one runs first.
func TestAgingRule(t *testing.T) {
	const aging = 10 * time.Millisecond
	tests := []struct {
		name   string
		highAt time.Duration // when the high request arrives, after the low one
		want   [][]int
	}{
		{"high within the period overtakes", aging - time.Microsecond, [][]int{{2}, {1}}},
		{"high one period later ties and waits", aging, [][]int{{1}, {2}}},
		{"high later still waits", 2 * aging, [][]int{{1}, {2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{block: true}
				b := start(t, r, Options{MaxBatchSize: 1, AgingPeriod: aging})
				ctx := context.Background()
				submit(ctx, b, req{id: 0, items: 1, width: 2}.inputs())
				low := submitAt(ctx, b, req{id: 1, items: 1, width: 2}.inputs(), 1)
				time.Sleep(tt.highAt)
				high := submitAt(ctx, b, req{id: 2, items: 1, width: 2}.inputs(), 2)
				r.unblock()
				answered(t, low)
				answered(t, high)
				if diff := gocmp.Diff(tt.want, r.runIDs()[1:]); diff != "" {
					t.Errorf("runs after the busy one differ (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestAgingPreventsStarvation runs a model that is never idle: a priority 2
// request arrives every millisecond and each run takes 2 ms. A priority 1
// request queued at 10 ms is overtaken only by the high requests that
// arrive within one AgingPeriod (10 ms) after it; the ones queued ahead of
// it then take (20-10) runs of 2 ms, so it starts at 40 ms, while the
// stream goes on until 60 ms. Without aging (a period of an hour) it waits
// for the stream to end.
func TestAgingPreventsStarvation(t *testing.T) {
	const (
		every  = time.Millisecond
		run    = 2 * time.Millisecond
		stream = 60 // high requests, at 0, 1, ..., 59 ms
		lowAt  = 10 // ms
		lowID  = 99
	)
	tests := []struct {
		name      string
		aging     time.Duration
		wantIndex int           // the low request's place among the runs
		wantStart time.Duration // when its run starts
	}{
		{"aging", 10 * time.Millisecond, 20, 40 * time.Millisecond},
		{"no aging to speak of", time.Hour, stream, stream * run},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{delay: run}
				b := start(t, r, Options{MaxBatchSize: 1, AgingPeriod: tt.aging})
				ctx := context.Background()
				t0 := time.Now()
				var chans []<-chan answer
				for i := range stream {
					time.Sleep(time.Until(t0.Add(time.Duration(i) * every)))
					chans = append(chans, submitAt(ctx, b, req{id: i, items: 1, width: 2}.inputs(), 2))
					if i == lowAt {
						chans = append(chans, submitAt(ctx, b, req{id: lowID, items: 1, width: 2}.inputs(), 1))
					}
				}
				time.Sleep(time.Second)
				for i, ch := range chans {
					if a := answered(t, ch); a.err != nil {
						t.Errorf("request %d: %v", i, a.err)
					}
				}
				ids := r.runIDs()
				idx := slices.IndexFunc(ids, func(run []int) bool { return run[0] == lowID })
				if idx < 0 {
					t.Fatalf("the low request never ran; runs %v", ids)
				}
				start := r.call(t, idx).at.Sub(t0)
				if idx != tt.wantIndex || start != tt.wantStart {
					t.Errorf("the low request ran as run %d at %v, want run %d at %v", idx, start, tt.wantIndex, tt.wantStart)
				}
				// The documented bound: its wait is at most (2-1) aging
				// periods plus the runs queued ahead of it by then.
				if bound := time.Duration(lowAt)*every + tt.aging + time.Duration(tt.wantIndex)*run; tt.aging < time.Hour && start > bound {
					t.Errorf("the low request started at %v, after the bound %v", start, bound)
				}
			})
		})
	}
}

// TestExpiredInQueue checks that a request whose deadline passes while it is
// queued behind others is taken out at once (the queue shrinks, Expired
// counts it) and never reaches the runner, and that a request whose
// deadline has already passed is never queued.
func TestExpiredInQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 4})
		bg := context.Background()
		submit(bg, b, req{id: 0, items: 1, width: 2}.inputs())
		first := req{id: 1, items: 1, width: 2}
		firstCh := submit(bg, b, first.inputs())
		ctx, cancel := context.WithTimeout(bg, 5*time.Millisecond)
		defer cancel()
		expiring := submitAt(ctx, b, req{id: 2, items: 1, width: 2}.inputs(), 5)
		last := req{id: 3, items: 1, width: 2}
		lastCh := submit(bg, b, last.inputs())
		if got := b.QueueLength(); got != 3 {
			t.Fatalf("QueueLength() = %d, want 3", got)
		}
		time.Sleep(10 * time.Millisecond)
		if a := answered(t, expiring); !errors.Is(a.err, ErrExpired) || !errors.Is(a.err, context.DeadlineExceeded) {
			t.Errorf("Submit of the expired request: error %v, want %v (a %v)", a.err, ErrExpired, context.DeadlineExceeded)
		}
		if st := b.Stats(); st.Expired != 1 || st.Cancelled != 0 || st.QueueLength != 2 || st.Fail.Count != 1 {
			t.Errorf("Stats while the model is still busy: Expired %d, Cancelled %d, QueueLength %d, Fail %d; want 1, 0, 2, 1",
				st.Expired, st.Cancelled, st.QueueLength, st.Fail.Count)
		}
		// Already past its deadline: refused without queueing.
		if _, err := b.Submit(ctx, req{id: 4, items: 1, width: 2}.inputs(), 0); !errors.Is(err, ErrExpired) {
			t.Errorf("Submit with a deadline already passed: error %v, want %v", err, ErrExpired)
		}
		if st := b.Stats(); st.Expired != 2 || st.QueueLength != 2 {
			t.Errorf("Stats: Expired %d, QueueLength %d; want 2, 2", st.Expired, st.QueueLength)
		}
		r.unblock()
		checkAnswer(t, first, answered(t, firstCh), 2)
		checkAnswer(t, last, answered(t, lastCh), 2)
		if diff := gocmp.Diff([][]int{{0}, {1, 3}}, r.runIDs()); diff != "" {
			t.Errorf("runs differ (-want +got):\n%s", diff)
		}
	})
}

// TestDeadlineWhileRunning checks that a deadline that passes once the
// request runs ends the caller's wait with the context's error, and counts
// it once as expired (as its observer is told), though it reached the model.
func TestDeadlineWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{delay: 10 * time.Millisecond}
		b := start(t, r, Options{MaxBatchSize: 4})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		_, err := b.Submit(ctx, req{id: 1, items: 1, width: 2}.inputs(), 0)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrExpired) {
			t.Errorf("Submit: error %v, want %v and not %v", err, context.DeadlineExceeded, ErrExpired)
		}
		if got := time.Since(t0); got != 5*time.Millisecond {
			t.Errorf("Submit returned after %v, want 5ms", got)
		}
		time.Sleep(time.Second)
		if st := b.Stats(); st.Expired != 1 || st.Cancelled != 0 || st.ExecutionCount != 1 || st.Fail.Count != 1 {
			t.Errorf("Stats: Expired %d, Cancelled %d, ExecutionCount %d, Fail %d; want 1, 0, 1, 1",
				st.Expired, st.Cancelled, st.ExecutionCount, st.Fail.Count)
		}
	})
}

// TestQueueFullIgnoresPriority checks that a full queue refuses a request
// whatever its priority: nothing queued is evicted.
func TestQueueFullIgnoresPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &fakeRunner{block: true}
		b := start(t, r, Options{MaxBatchSize: 1, MaxQueueSize: 2})
		ctx := context.Background()
		var chans []<-chan answer
		for i := range 3 { // one running, two queued
			chans = append(chans, submitAt(ctx, b, req{id: i, items: 1, width: 2}.inputs(), 1))
		}
		if _, err := b.Submit(ctx, req{id: 3, items: 1, width: 2}.inputs(), 100); !errors.Is(err, ErrQueueFull) {
			t.Errorf("high-priority Submit on a full queue: error %v, want %v", err, ErrQueueFull)
		}
		if st := b.Stats(); st.Rejected != 1 || st.QueueLength != 2 || st.Fail.Count != 1 {
			t.Errorf("Stats: Rejected %d, QueueLength %d, Fail %d; want 1, 2, 1", st.Rejected, st.QueueLength, st.Fail.Count)
		}
		r.unblock()
		for i, ch := range chans {
			if a := answered(t, ch); a.err != nil {
				t.Errorf("request %d: %v", i, a.err)
			}
		}
		// Room again.
		if _, err := b.Submit(ctx, req{id: 4, items: 1, width: 2}.inputs(), 0); err != nil {
			t.Errorf("Submit once the queue drained: %v", err)
		}
	})
}

func TestLevelPriority(t *testing.T) {
	tests := []struct {
		levels, level uint64
		want          Priority
	}{
		{0, 0, 1}, {0, 3, 1},
		{1, 1, 1},
		{2, 1, 2}, {2, 2, 1},
		{5, 1, 5}, {5, 3, 3}, {5, 5, 1},
		{5, 0, 5}, {5, 9, 1}, // clamped
	}
	for _, tt := range tests {
		if got := LevelPriority(tt.levels, tt.level); got != tt.want {
			t.Errorf("LevelPriority(%d, %d) = %v, want %v", tt.levels, tt.level, got, tt.want)
		}
	}
}

// TestQueueHeap pushes jobs of random ranks, removes some as leaving
// callers do, and checks that the rest come out by rank, then arrival.
func TestQueueHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q queue
	var all []*job
	for i := range 500 {
		j := &job{rank: rng.Int64N(50), seq: uint64(i), index: -1}
		q.push(j)
		all = append(all, j)
	}
	var want []*job
	for _, j := range all {
		if rng.IntN(3) == 0 {
			if !q.remove(j) {
				t.Fatalf("remove of a queued job reported false")
			}
			if q.remove(j) {
				t.Fatalf("second remove of a job reported true")
			}
			continue
		}
		want = append(want, j)
	}
	slices.SortFunc(want, func(a, b *job) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.seq, b.seq))
	})
	for i, w := range want {
		if q.Len() == 0 {
			t.Fatalf("queue empty after %d of %d jobs", i, len(want))
		}
		if got := q.pop(); got != w || got.index != -1 {
			t.Fatalf("pop %d: rank %d seq %d (index %d), want rank %d seq %d", i, got.rank, got.seq, got.index, w.rank, w.seq)
		}
	}
	if q.Len() != 0 {
		t.Errorf("%d jobs left over", q.Len())
	}
}

func TestRankSaturates(t *testing.T) {
	for _, p := range []Priority{Priority(math.Inf(1)), Priority(math.Inf(-1)), Priority(math.NaN()), 1e300, -1e300} {
		r := rank(time.Second, p, time.Second)
		if p > 0 && r >= int64(time.Second) || p < 0 && r <= int64(time.Second) || math.IsNaN(float64(p)) && r != int64(time.Second) {
			t.Errorf("rank(1s, %v, 1s) = %d", p, r)
		}
	}
}
