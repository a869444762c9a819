package batch

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGatherWindow plays announcements (Expect), submissions and
// give-ups at fixed (synctest) times and checks when batches run and how
// large they are: a batch waits only for requests announced when it
// formed, never when none is, and never past the window.
func TestGatherWindow(t *testing.T) {
	type event struct {
		at time.Duration
		op string // "expect", "submit" (of an announced request, or a plain one) or "give up"
		id int
	}
	type run struct {
		At    time.Duration
		Items int64
	}
	us := time.Microsecond
	tests := []struct {
		name   string
		opt    Options
		events []event
		want   []run
	}{
		{"a lone announced request runs at once", Options{MaxBatchSize: 8},
			[]event{{0, "expect", 1}, {0, "submit", 1}},
			[]run{{0, 1}}},
		{"a plain request with nothing announced runs at once", Options{MaxBatchSize: 8},
			[]event{{0, "submit", 1}, {50 * us, "submit", 2}},
			[]run{{0, 1}, {50 * us, 1}}},
		{"announced requests join the batch", Options{MaxBatchSize: 8},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "expect", 3}, {0, "submit", 1}, {10 * us, "submit", 2}, {30 * us, "submit", 3}},
			[]run{{30 * us, 3}}},
		{"a batch waits only for what was announced when it formed", Options{MaxBatchSize: 8},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {5 * us, "expect", 3}, {10 * us, "submit", 2}, {20 * us, "submit", 3}},
			[]run{{10 * us, 2}, {20 * us, 1}}},
		{"a request given up releases the batch", Options{MaxBatchSize: 8},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {40 * us, "give up", 2}},
			[]run{{40 * us, 1}}},
		{"the window bounds the wait", Options{MaxBatchSize: 8, GatherWindow: 200 * us},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {500 * us, "submit", 2}},
			[]run{{200 * us, 1}, {500 * us, 1}}},
		{"the default window", Options{MaxBatchSize: 8},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {5 * time.Millisecond, "submit", 2}},
			[]run{{DefaultGatherWindow, 1}, {5 * time.Millisecond, 1}}},
		{"a full batch does not wait", Options{MaxBatchSize: 2},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "expect", 3}, {0, "submit", 1}, {10 * us, "submit", 2}, {20 * us, "submit", 3}},
			[]run{{10 * us, 2}, {20 * us, 1}}},
		{"gathering off", Options{MaxBatchSize: 8, GatherWindow: -1},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {10 * us, "submit", 2}},
			[]run{{0, 1}, {10 * us, 1}}},
		{"no batch axis never waits", Options{},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}, {10 * us, "submit", 2}},
			[]run{{0, 1}, {10 * us, 1}}},
		{"a max queue delay replaces the window", Options{MaxBatchSize: 8, MaxQueueDelay: 100 * us},
			[]event{{0, "expect", 1}, {0, "expect", 2}, {0, "submit", 1}},
			[]run{{100 * us, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &fakeRunner{}
				b := start(t, r, tt.opt)
				t0 := time.Now()
				ctxs := map[int]context.Context{}
				giveUps := map[int]func(){}
				var chans []<-chan answer
				for _, e := range tt.events {
					time.Sleep(time.Until(t0.Add(e.at)))
					switch e.op {
					case "expect":
						ctxs[e.id], giveUps[e.id] = b.Expect(context.Background())
					case "give up":
						giveUps[e.id]()
					case "submit":
						ctx, ok := ctxs[e.id]
						if !ok {
							ctx = context.Background()
						}
						chans = append(chans, submit(ctx, b, req{id: e.id, items: 1, width: 2}.inputs()))
					}
				}
				time.Sleep(10 * time.Millisecond)
				for i, ch := range chans {
					if a := answered(t, ch); a.err != nil {
						t.Errorf("request %d: %v", i, a.err)
					}
				}
				for _, g := range giveUps {
					g() // a no-op after Submit took the announcement
				}
				if n := b.expected.Load(); n != 0 {
					t.Errorf("%d requests still announced after every one was submitted or given up", n)
				}
				var got []run
				r.mu.Lock()
				for _, c := range r.calls {
					got = append(got, run{c.at.Sub(t0), c.items()})
				}
				r.mu.Unlock()
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("runs differ (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestYieldPacing checks when a worker yields the processor before running
// a lone request: at first, and after idle spells only when a request is
// announced or to probe every probeEvery batches; a yield that brings a
// request brings yielding back.
func TestYieldPacing(t *testing.T) {
	b := &Batcher{opt: Options{MaxBatchSize: 8}}
	var p pace
	// gather forms one batch: it starts with one request and gains one per
	// yield while gain lasts; it reports how many times the worker yielded.
	gather := func(gain int) int {
		var g gathering
		n, yields := 1, 0
		for {
			wait, yield := b.gatherWait(&g, &p, n, time.Now())
			if !yield || wait > 0 { // a wait for the announced request ends this batch too
				if wait > 0 && b.expected.Load() == 0 {
					t.Fatalf("wait %v with nothing announced", wait)
				}
				g.done(&p, n)
				return yields
			}
			yields++
			if gain > 0 {
				n, gain = n+1, gain-1
			}
		}
	}
	var got []int
	for range idleAfter + 2 {
		got = append(got, gather(0))
	}
	b.expected.Add(1)
	got = append(got, gather(0)) // announced: yields although idle
	b.expected.Add(-1)
	for p.batches%probeEvery != 0 {
		got = append(got, gather(0))
	}
	got = append(got, gather(3)) // the probe finds load
	got = append(got, gather(0)) // and yielding is back
	want := []int{1, 1, 1, 1, 0, 0, 1}
	for range len(got) - len(want) - 2 {
		want = append(want, 0)
	}
	want = append(want, 4, 1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("yields per batch differ (-want +got):\n%s", diff)
	}
}
