package batch

import (
	"sync"
	"time"
)

// Batch size tuning. A bigger batch is not always faster per item: on a
// GPU the cost of one execution barely grows with its size, but on a CPU a
// batch whose activations outgrow the caches runs each item slower (the
// bundled PaddleOCR classifier: about 650 µs an item alone or in pairs,
// 1 ms an item in batches of 8 or 16 on one core). With Options.TuneSize the
// batcher measures the time per item of the batch sizes it runs and caps
// the batches it forms at the size that measured fastest, up to
// MaxBatchSize; requests that do not fit wait for the next execution.
//
// Sizes are grouped in buckets by powers of two: 1, 2, 3–4, 5–8, … up to
// MaxBatchSize, each holding a moving average of the time per item of the
// executions whose size falls in it. The cap is the top of a bucket. To
// measure sizes the current cap does not produce, the sizer sets one batch
// aside every probeInterval executions (probeIntervalEarly while a bucket has
// fewer than minSamples samples) to probe another bucket: the batch is capped
// at that bucket's top (a smaller bucket), or may grow to it (a bigger one),
// and it measures whatever size the queue actually fills. The bucket probed
// is the one measured least, then longest ago. The cap moves to the best
// bucket with minSamples samples once it is faster per item than the
// current one by more than switchMargin, so noise does not make it
// flutter. A probe costs at most one execution at a slower size in every
// probeInterval: under 2 % of the throughput.
//
// The sizer only ever caps what the queue offers: a lone request still runs
// at once, and with few requests waiting the cap does not matter.
const (
	minSamples         = 3
	probeIntervalEarly = 4
	probeInterval      = 64
	switchMargin       = 0.03
	// sizeAverageWeight is the weight of a new sample in a bucket's
	// moving average.
	sizeAverageWeight = 0.25
	// outlierFactor bounds a sample relative to its bucket's average.
	outlierFactor = 1.5
)

// sizeBucket is the measurements of the batch sizes (top/2, top].
type sizeBucket struct {
	top     int
	perItem float64 // moving average, nanoseconds per item
	samples int
	probes  int    // probes set for it, filled or not
	touched uint64 // the execution count at the last sample or probe
}

// sizer picks the cap on the items of the batches a batcher forms.
type sizer struct {
	mu      sync.Mutex
	buckets []sizeBucket
	current int       // index of the bucket whose top is the cap
	probe   int       // index of the bucket the next batch probes, -1 for none
	probing bool      // the batch formed last was a probe
	execs   uint64    // executions observed
	probed  uint64    // the execution count when the last probe was set
	sampled time.Time // when the last measured execution started
}

// newSizer returns a sizer for batches of up to maxBatch items, starting
// with the cap at maxBatch.
func newSizer(maxBatch int) *sizer {
	s := &sizer{probe: -1}
	for top := 1; ; top *= 2 {
		s.buckets = append(s.buckets, sizeBucket{top: min(top, maxBatch)})
		if top >= maxBatch {
			break
		}
	}
	s.current = len(s.buckets) - 1
	return s
}

// limit returns the most items the next batch may hold: the cap, or a
// probe's size. A worker calls it once per batch it forms.
func (s *sizer) limit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probing = s.probe >= 0
	if s.probing {
		top := s.buckets[s.probe].top
		s.probe = -1
		return top
	}
	return s.buckets[s.current].top
}

// Limit returns the cap on the items of a batch now (MaxBatchSize without
// tuning).
func (b *Batcher) Limit() int {
	if b.size == nil {
		return b.opt.MaxBatchSize
	}
	s := b.size
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[s.current].top
}

// bucketOf returns the index of the bucket holding batches of items.
func (s *sizer) bucketOf(items int) int {
	for i, bk := range s.buckets {
		if items <= bk.top {
			return i
		}
	}
	return len(s.buckets) - 1
}

// observe records an execution of items items that took d, and decides the
// cap and the next probe. It returns the cap and whether it changed.
func (s *sizer) observe(items int, d time.Duration) (limit int, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.execs++
	if items > 0 && d > 0 {
		bk := &s.buckets[s.bucketOf(items)]
		v := float64(d) / float64(items)
		switch {
		case bk.samples == 0:
			bk.perItem = v
		case bk.samples < minSamples:
			// The best of the first few: the first executions at a
			// size pay one-off costs (buffers growing, caches).
			bk.perItem = min(bk.perItem, v)
		default:
			// An outlier (a garbage collection assist, a page fault,
			// a preemption) counts as at most outlierFactor times the
			// average, so that one does not decide the cap.
			bk.perItem += sizeAverageWeight * (min(v, outlierFactor*bk.perItem) - bk.perItem)
		}
		bk.samples++
		bk.touched = s.execs
	}

	// The cap moves to the best measured bucket when that beats, by the
	// margin, the batches the cap lets form now: those of the cap's own
	// bucket, or, while it has never filled, of the biggest measured
	// bucket below it (with nothing measured below, the cap is not what
	// limits the batches, and it stays).
	before := s.current
	best, now := -1, -1
	for i, bk := range s.buckets {
		if bk.samples < minSamples {
			continue
		}
		if best < 0 || bk.perItem < s.buckets[best].perItem {
			best = i
		}
		if i <= s.current {
			now = i
		}
	}
	if now >= 0 && s.buckets[best].perItem < s.buckets[now].perItem*(1-switchMargin) {
		s.current = best
	}

	// The next probe: the bucket measured or probed longest ago, once
	// probeInterval executions have passed since it was and since the last
	// probe (probeIntervalEarly while it has few samples and few probes);
	// none right after a probe, and none before any bucket is measured.
	s.probe = -1
	if !s.probing && best >= 0 && len(s.buckets) > 1 {
		pick := -1
		for i, bk := range s.buckets {
			if i != s.current && (pick < 0 || bk.touched < s.buckets[pick].touched) {
				pick = i
			}
		}
		// Soon while a bucket lacks samples, unless probes did not fill
		// it (requests bigger than its top, or too few queued).
		bk := &s.buckets[pick]
		interval := uint64(probeInterval)
		if bk.samples < minSamples && bk.probes < minSamples {
			interval = probeIntervalEarly
		}
		if s.execs-max(bk.touched, s.probed) >= interval {
			s.probe = pick
			bk.touched, s.probed = s.execs, s.execs
			bk.probes++
		}
	}
	return s.buckets[s.current].top, s.current != before
}

// SizeClock is what batch size tuning measures an execution with.
type SizeClock int

const (
	// WallClock measures an execution's elapsed time: right where the
	// model's work is not the calling thread's (a GPU), or where the
	// thread has a core to itself.
	WallClock SizeClock = iota
	// ThreadCPUClock measures the CPU time of the thread that merges, runs
	// and splits the batch: right for a model that runs on the CPU in that
	// one thread (ONNX Runtime with one intra-op thread). Its elapsed time
	// would also count the time the thread waited for its core while the
	// front's work had it, which does not shrink with the batch: on a
	// shared core small batches would look slower than they are. Where the
	// thread's CPU time cannot be read, it falls back to WallClock.
	ThreadCPUClock
)

// sampleGap spaces the executions that ThreadCPUClock measures: reading a
// thread's CPU time is a system call, which a model that runs in
// microseconds would feel on every execution.
const sampleGap = time.Millisecond

// sample reports whether the execution starting at now is measured: every
// probe, and otherwise executions under load (loaded: other requests were
// queued beside it) at least sampleGap apart. The cap only matters under
// load, and so a model at concurrency 1 pays nothing for tuning.
func (s *sizer) sample(now time.Time, loaded bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.probing && (!loaded || now.Sub(s.sampled) < sampleGap) {
		return false
	}
	s.sampled = now
	return true
}
