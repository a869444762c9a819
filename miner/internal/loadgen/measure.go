package loadgen

import (
	"math"
	"slices"
	"time"
)

// StabilityWindows is how many consecutive windows must agree for a
// measurement to be stable (perf_analyzer's stability window).
const StabilityWindows = 3

// Measure sets how every measurement is taken: windows of a fixed length,
// repeated until the last StabilityWindows of them are stable or MaxTrials
// windows have run.
type Measure struct {
	// Window is the length of one measurement window.
	Window time.Duration
	// Stability is the allowed spread as a fraction (0.1 = 10%): the
	// largest of the last windows' infer/s and latency may exceed the
	// smallest by at most this much.
	Stability float64
	// MaxTrials bounds the number of windows per measurement.
	MaxTrials int
	// Percentile selects the latency judged for stability: 0 the average
	// (perf_analyzer's default), otherwise this percentile (its
	// --percentile).
	Percentile int
}

// window is what one measurement window saw.
type window struct {
	dur      time.Duration
	requests int             // successful requests (runs, for raw)
	items    int             // batch items in them
	lat      []time.Duration // one per success, in completion order
	errors   map[string]int  // failures by HTTP status or "transport"
	firstErr string
	// Server statistics deltas; statsOK is false when they are unknown.
	inferences, executions uint64
	statsOK                bool
}

// itemsPerSec is the window's throughput in batch items per second.
func (w *window) itemsPerSec() float64 {
	if w.dur <= 0 {
		return 0
	}
	return float64(w.items) / w.dur.Seconds()
}

// judgedLatency is the latency the stability rule compares: the average,
// or the given percentile.
func (w *window) judgedLatency(percentile int) time.Duration {
	if len(w.lat) == 0 {
		return 0
	}
	if percentile > 0 {
		return percentileOf(slices.Sorted(slices.Values(w.lat)), float64(percentile))
	}
	var sum time.Duration
	for _, l := range w.lat {
		sum += l
	}
	return sum / time.Duration(len(w.lat))
}

// stable applies perf_analyzer's rule to the last StabilityWindows windows:
// each completed something, and in both infer/s and the judged latency the
// largest is at most (1+threshold) times the smallest.
func stable(ws []window, threshold float64, percentile int) bool {
	if len(ws) < StabilityWindows {
		return false
	}
	last := ws[len(ws)-StabilityWindows:]
	ips := make([]float64, len(last))
	lat := make([]float64, len(last))
	for i := range last {
		ips[i] = last[i].itemsPerSec()
		lat[i] = float64(last[i].judgedLatency(percentile))
		if ips[i] == 0 || lat[i] == 0 {
			return false
		}
	}
	return within(ips, threshold) && within(lat, threshold)
}

// within reports whether max(v) <= (1+threshold)·min(v).
func within(v []float64, threshold float64) bool {
	return slices.Max(v) <= (1+threshold)*slices.Min(v)
}

// percentileOf returns the nearest-rank percentile of sorted samples: the
// smallest sample that at least p percent of the samples do not exceed.
func percentileOf(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Latency summarises latencies in milliseconds.
type Latency struct {
	Avg float64 `json:"avg_ms"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// summarize computes the average and percentiles of samples.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	sorted := slices.Sorted(slices.Values(samples))
	var sum time.Duration
	for _, s := range sorted {
		sum += s
	}
	return Latency{
		Avg: ms(sum / time.Duration(len(sorted))),
		P50: ms(percentileOf(sorted, 50)),
		P90: ms(percentileOf(sorted, 90)),
		P95: ms(percentileOf(sorted, 95)),
		P99: ms(percentileOf(sorted, 99)),
	}
}

// merge adds windows up into one, as perf_analyzer merges the stable
// windows for its report; errors are left out (see countErrors).
func merge(ws []window) window {
	var m window
	m.statsOK = len(ws) > 0
	for _, w := range ws {
		m.dur += w.dur
		m.requests += w.requests
		m.items += w.items
		m.lat = append(m.lat, w.lat...)
		m.inferences += w.inferences
		m.executions += w.executions
		m.statsOK = m.statsOK && w.statsOK
	}
	return m
}

// countErrors sums the failures of windows.
func countErrors(ws []window) (total int, byStatus map[string]int, first string) {
	byStatus = map[string]int{}
	for _, w := range ws {
		for k, v := range w.errors {
			byStatus[k] += v
			total += v
		}
		if first == "" {
			first = w.firstErr
		}
	}
	return total, byStatus, first
}
