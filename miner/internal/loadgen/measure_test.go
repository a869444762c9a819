package loadgen

import (
	"testing"
	"time"
)

// win builds a window of dur with one latency sample per request.
func win(dur time.Duration, items int, lat ...time.Duration) window {
	return window{dur: dur, requests: len(lat), items: items, lat: lat, errors: map[string]int{}}
}

func TestStable(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	tests := []struct {
		name       string
		ws         []window
		threshold  float64
		percentile int
		want       bool
	}{
		{"too few windows", []window{win(s, 100, ms), win(s, 100, ms)}, 0.1, 0, false},
		{"three equal", []window{win(s, 100, ms), win(s, 100, ms), win(s, 100, ms)}, 0.1, 0, true},
		{"infer/s spread 10% is stable", []window{win(s, 100, ms), win(s, 110, ms), win(s, 105, ms)}, 0.1, 0, true},
		{"infer/s spread 11% is not", []window{win(s, 100, ms), win(s, 111, ms), win(s, 105, ms)}, 0.1, 0, false},
		{"only the last three count", []window{win(s, 10, ms), win(s, 100, ms), win(s, 101, ms), win(s, 102, ms)}, 0.1, 0, true},
		{"window length is taken into account", []window{win(s, 100, ms), win(2*s, 200, ms), win(s/2, 50, ms)}, 0.1, 0, true},
		{"average latency spread too large", []window{win(s, 100, ms), win(s, 100, 2*ms), win(s, 100, ms)}, 0.1, 0, false},
		{"zero throughput is never stable", []window{win(s, 0), win(s, 0), win(s, 0)}, 0.1, 0, false},
		{"p99 judged: same tail", []window{
			win(s, 100, ms, ms, ms, 10*ms), win(s, 100, ms, 2*ms, ms, 10*ms), win(s, 100, 2*ms, ms, 2*ms, 10*ms),
		}, 0.1, 99, true},
		{"p99 judged: tail differs", []window{
			win(s, 100, ms, 10*ms), win(s, 100, ms, 10*ms), win(s, 100, ms, 20*ms),
		}, 0.1, 99, false},
		{"average judged: same tail, different body", []window{
			win(s, 100, ms, ms, ms, 10*ms), win(s, 100, 5*ms, 5*ms, 5*ms, 10*ms), win(s, 100, ms, ms, ms, 10*ms),
		}, 0.1, 0, false},
		{"wide threshold", []window{win(s, 100, ms), win(s, 140, ms), win(s, 120, ms)}, 0.5, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stable(tt.ws, tt.threshold, tt.percentile); got != tt.want {
				t.Errorf("stable(threshold %v, percentile %d) = %v, want %v", tt.threshold, tt.percentile, got, tt.want)
			}
		})
	}
}

func TestPercentileOf(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", []time.Duration{7}, 99, 7},
		{"p0 is the minimum", hundred, 0, 1},
		{"p50 of 1..100", hundred, 50, 50},
		{"p90 of 1..100", hundred, 90, 90},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the maximum", hundred, 100, 100},
		{"p50 of 4 is the 2nd", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p51 of 4 is the 3rd", []time.Duration{1, 2, 3, 4}, 51, 3},
		{"p99 of 10 is the max", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{"p90 of 10 is the 9th", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentileOf(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentileOf(%d samples, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	got := summarize(samples)
	want := Latency{Avg: 50.5, P50: 50, P90: 90, P95: 95, P99: 99}
	if got != want {
		t.Errorf("summarize(1..100 ms) = %+v, want %+v", got, want)
	}
	if samples[0] != 100*time.Millisecond {
		t.Error("summarize reordered its input")
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
}

func TestMergeAndErrors(t *testing.T) {
	a := win(time.Second, 10, time.Millisecond)
	a.inferences, a.executions, a.statsOK = 10, 5, true
	a.errors["429"] = 2
	a.firstErr = "429: queue full"
	b := win(time.Second, 30, 2*time.Millisecond, 3*time.Millisecond)
	b.inferences, b.executions, b.statsOK = 30, 10, true
	b.errors["transport"] = 1
	m := merge([]window{a, b})
	if m.dur != 2*time.Second || m.items != 40 || m.requests != 3 || len(m.lat) != 3 || m.inferences != 40 || m.executions != 15 || !m.statsOK {
		t.Errorf("merge = %+v", m)
	}
	b.statsOK = false
	if merge([]window{a, b}).statsOK {
		t.Error("merge with a window without statistics claims statistics")
	}
	total, by, first := countErrors([]window{a, b})
	if total != 3 || by["429"] != 2 || by["transport"] != 1 || first != "429: queue full" {
		t.Errorf("countErrors = %d %v %q, want 3 map[429:2 transport:1] \"429: queue full\"", total, by, first)
	}
}
