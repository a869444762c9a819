package batch

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/taominer/taominer/models/tensor"
)

// perItemCost is a model's execution time as a function of its batch size,
// given as the time per item of each size (sizes above the table's last
// cost as its last).
func perItemCost(perItem ...time.Duration) func(items int) time.Duration {
	return func(items int) time.Duration {
		return time.Duration(items) * perItem[min(items, len(perItem))-1]
	}
}

// The cost models of the tests.
var (
	// cpuCaches: the bundled PaddleOCR classifier on one CPU core, as
	// measured with `miner bench --raw --raw-batch 1,2,4,8,16`: 1 475,
	// 1 533, 1 069, 1 000 and 974 items/s.
	cpuCaches = perItemCost(678*time.Microsecond, 652*time.Microsecond, 935*time.Microsecond, 935*time.Microsecond,
		1000*time.Microsecond, 1000*time.Microsecond, 1000*time.Microsecond, 1000*time.Microsecond,
		1027*time.Microsecond)
	// gpuLike: a fixed cost per execution and a small one per item.
	gpuLike = func(items int) time.Duration { return time.Millisecond + time.Duration(items)*10*time.Microsecond }
	// flat: the same time per item at every size.
	flat = perItemCost(100 * time.Microsecond)
	// bestAtEight: per item cheaper up to 8, dearer beyond.
	bestAtEight = perItemCost(400*time.Microsecond, 300*time.Microsecond, 200*time.Microsecond, 200*time.Microsecond,
		150*time.Microsecond, 150*time.Microsecond, 150*time.Microsecond, 150*time.Microsecond, 300*time.Microsecond)
)

// withOutliers makes every every-th execution of more than 8 items take
// factor times as long: garbage collection assists that only merged
// batches pay, as a bigger batch allocates.
func withOutliers(cost func(int) time.Duration, every int, factor time.Duration) func(int) time.Duration {
	n := 0
	return func(items int) time.Duration {
		if items > 8 {
			if n++; n%every == 0 {
				return factor * cost(items)
			}
		}
		return cost(items)
	}
}

// phase is a stretch of executions with a queue that holds depth items
// whenever a batch forms, and a cost model.
type phase struct {
	execs, depth int
	cost         func(items int) time.Duration
}

// simulate plays phases against a sizer, each execution's time jittered by
// up to ±jitter (a fraction) with a fixed seed, and returns the cap at the
// end and how many executions of the last phase's second half ran at a size
// outside the cap's bucket.
func simulate(s *sizer, jitter float64, phases ...phase) (limit, offCap int) {
	rng := rand.New(rand.NewPCG(1, 2))
	for pi, ph := range phases {
		for i := range ph.execs {
			items := min(s.limit(), ph.depth)
			if pi == len(phases)-1 && i >= ph.execs/2 && s.bucketOf(items) != s.current {
				offCap++
			}
			d := float64(ph.cost(items)) * (1 + jitter*(2*rng.Float64()-1))
			limit, _ = s.observe(items, time.Duration(d))
		}
	}
	return limit, offCap
}

func TestSizerFindsTheFastestSize(t *testing.T) {
	tests := []struct {
		name     string
		maxBatch int
		jitter   float64
		phases   []phase
		want     int
	}{
		{"cpu: pairs beat big batches", 16, 0, []phase{{2000, 16, cpuCaches}}, 2},
		{"cpu with 5% noise", 16, 0.05, []phase{{4000, 16, cpuCaches}}, 2},
		{"gpu: the biggest batch", 64, 0, []phase{{2000, 64, gpuLike}}, 64},
		{"gpu with 5% noise", 64, 0.05, []phase{{4000, 64, gpuLike}}, 64},
		{"a flat cost keeps the max", 16, 0, []phase{{2000, 16, flat}}, 16},
		{"an optimum in the middle", 16, 0, []phase{{2000, 16, bestAtEight}}, 8},
		{"max not a power of two", 12, 0, []phase{{2000, 12, gpuLike}}, 12},
		{"a shallow queue leaves the cap", 16, 0, []phase{{2000, 3, gpuLike}}, 16},
		{"light load first does not cap a later burst", 64, 0,
			[]phase{{500, 1, gpuLike}, {2000, 64, gpuLike}}, 64},
		{"the cap follows a change back up", 16, 0,
			[]phase{{2000, 16, cpuCaches}, {20000, 16, gpuLike}}, 16},
		{"and down", 16, 0,
			[]phase{{2000, 16, gpuLike}, {20000, 16, cpuCaches}}, 2},
		{"rare outliers do not decide", 16, 0, []phase{{4000, 16, withOutliers(gpuLike, 8, 50)}}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := simulate(newSizer(tt.maxBatch), tt.jitter, tt.phases...)
			if got != tt.want {
				t.Errorf("cap = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestSizerColdStart checks that one-off costs of the first merged
// executions (a merge buffer growing, first page faults: here twice, and
// however large) never move the cap of a model whose biggest batch is the
// fastest, at any point.
func TestSizerColdStart(t *testing.T) {
	s := newSizer(16)
	seen := map[int]int{}
	for i := range 3000 {
		items := s.limit()
		d := gpuLike(items)
		// Only merged batches (here: more than 8 items, 8-item requests)
		// grow a merge buffer.
		if items > 8 {
			if seen[s.bucketOf(items)]++; seen[s.bucketOf(items)] <= 2 {
				d *= 100000
			}
		}
		if limit, _ := s.observe(items, d); limit != 16 {
			t.Fatalf("execution %d: cap %d, want 16 throughout", i, limit)
		}
	}
}

// TestSizerUnfillableBuckets plays requests of 8 items each with a 16-item
// max: buckets 1, 2 and 4 can never be filled, and probing them must not
// keep splitting pairs of requests. Once settled, at most about one
// execution in probeInterval runs off the cap.
func TestSizerUnfillableBuckets(t *testing.T) {
	s := newSizer(16)
	off := 0
	const execs = 20000
	for i := range execs {
		limit := s.limit()
		items := 16 // two requests of 8
		if limit < 16 {
			items = 8 // one request, whatever the probe's size
		}
		if i >= execs/2 && items != 16 {
			off++
		}
		s.observe(items, gpuLike(items))
	}
	if got := s.buckets[s.current].top; got != 16 {
		t.Fatalf("cap = %d, want 16", got)
	}
	if max := execs/2/probeInterval + 10; off > max {
		t.Errorf("%d of the last %d executions ran a single request, want at most %d", off, execs/2, max)
	}
}

// TestSizerProbesRarely checks that once the cap has settled, few
// executions run at another size: about one in probeInterval.
func TestSizerProbesRarely(t *testing.T) {
	const execs = 20000
	limit, off := simulate(newSizer(16), 0, phase{execs, 16, cpuCaches})
	if limit != 2 {
		t.Fatalf("cap = %d, want 2", limit)
	}
	if max := execs/2/probeInterval + 10; off > max {
		t.Errorf("%d of the last %d executions ran off the cap, want at most %d", off, execs/2, max)
	}
	if off == 0 {
		t.Errorf("no execution probed another size: the cap could not follow a change")
	}
}

// TestSizerBuckets checks the buckets' tops and which bucket a size falls
// in.
func TestSizerBuckets(t *testing.T) {
	tests := []struct {
		maxBatch int
		tops     []int
	}{
		{2, []int{1, 2}},
		{16, []int{1, 2, 4, 8, 16}},
		{12, []int{1, 2, 4, 8, 12}},
		{100, []int{1, 2, 4, 8, 16, 32, 64, 100}},
	}
	for _, tt := range tests {
		s := newSizer(tt.maxBatch)
		var tops []int
		for _, bk := range s.buckets {
			tops = append(tops, bk.top)
		}
		if !slices.Equal(tops, tt.tops) {
			t.Errorf("max %d: tops %v, want %v", tt.maxBatch, tops, tt.tops)
		}
		if got := s.limit(); got != tt.maxBatch {
			t.Errorf("max %d: first limit %d, want the max", tt.maxBatch, got)
		}
		for items := 1; items <= tt.maxBatch; items++ {
			i := s.bucketOf(items)
			lo := 0
			if i > 0 {
				lo = s.buckets[i-1].top
			}
			if items <= lo || items > s.buckets[i].top {
				t.Errorf("max %d: %d items in bucket (%d, %d]", tt.maxBatch, items, lo, s.buckets[i].top)
			}
		}
	}
}

// TestBatcherTunesSize runs a batcher under 16 clients that each resubmit
// as soon as they are answered, against a runner that takes cpuCaches'
// time (synctest time). With TuneSize it settles on pairs: the cap, and
// where most items of the second half ran; without, the same load runs in
// big batches.
func TestBatcherTunesSize(t *testing.T) {
	for _, tune := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			r := &fakeRunner{hook: func(_ int, in []tensor.Tensor) error {
				time.Sleep(cpuCaches(int(in[0].Shape[0])))
				return nil
			}}
			b := start(t, r, Options{MaxBatchSize: 16, TuneSize: tune, GatherWindow: -1})
			const clients, each = 16, 150
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for i := range each {
						if _, err := b.Submit(context.Background(), req{id: c*each + i, items: 1, width: 2}.inputs(), 0); err != nil {
							t.Errorf("submit: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			// The share of the second half's items that ran in executions
			// of at most 2.
			sizes := r.batchSizes()
			var small, all int64
			for _, n := range sizes[len(sizes)/2:] {
				if all += n; n <= 2 {
					small += n
				}
			}
			share := float64(small) / float64(all)
			switch {
			case tune && b.Limit() != 2:
				t.Errorf("tuned: cap %d, want 2", b.Limit())
			case tune && share < 0.9:
				t.Errorf("tuned: %.0f%% of the second half's items ran in executions of at most 2, want 90%% or more", 100*share)
			case !tune && b.Limit() != 16:
				t.Errorf("untuned: cap %d, want max_batch_size 16", b.Limit())
			case !tune && share > 0.2:
				t.Errorf("untuned: %.0f%% of the items ran in executions of at most 2; the queue should fill batches", 100*share)
			}
		})
	}
}

// TestThreadCPUTime checks that the thread clock of ThreadCPUClock counts
// the thread's work and not its waiting.
func TestThreadCPUTime(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok := threadCPUTime()
	if !ok {
		t.Skip("no thread CPU clock on this system: tuning falls back to elapsed time")
	}
	// Work until the clock has advanced 5 ms (it must, or this never ends).
	for {
		if c, _ := threadCPUTime(); c-c0 >= 5*time.Millisecond {
			break
		}
	}
	c1, _ := threadCPUTime()
	time.Sleep(50 * time.Millisecond)
	c2, _ := threadCPUTime()
	if d := c2 - c1; d >= 25*time.Millisecond {
		t.Errorf("sleeping 50 ms took %v of the thread's CPU time", d)
	}
}
