package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
)

func TestObserver(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	o := m.Observer("m", "1")
	o.ExecutionStarted()
	if got := value(t, m.executing.WithLabelValues("m", "1")); got != 1 {
		t.Errorf("executing = %v, want 1", got)
	}
	o.ObserveExecution(3, 2*time.Millisecond, true)
	o.ExecutionStarted()
	o.ObserveExecution(5, time.Millisecond, false)
	for _, oc := range []batch.Outcome{batch.OutcomeSuccess, batch.OutcomeSuccess, batch.OutcomeFailure, batch.OutcomeCancelled} {
		o.ObserveRequest(time.Millisecond, 3*time.Millisecond, oc)
	}
	m.Observer("m", "1").ObserveRequest(-1, 0, batch.OutcomeRejected) // a reload feeds the same series
	o.ObserveRequest(-1, time.Millisecond, batch.OutcomeExpired)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"executing", value(t, m.executing.WithLabelValues("m", "1")), 0},
		{"backend", value(t, m.failures.WithLabelValues("m", "1", ReasonBackend)), 1},
		{"rejected", value(t, m.failures.WithLabelValues("m", "1", ReasonRejected)), 1},
		{"cancelled", value(t, m.failures.WithLabelValues("m", "1", ReasonCancelled)), 1},
		{"expired", value(t, m.failures.WithLabelValues("m", "1", ReasonExpired)), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if h := mt.GetHistogram(); h != nil {
				counts[mf.GetName()] += h.GetSampleCount()
			}
		}
	}
	want := map[string]uint64{"taominer_request_duration_seconds": 2, "taominer_queue_duration_seconds": 4,
		"taominer_compute_duration_seconds": 1, "taominer_batch_size": 1}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%s count = %d, want %d", name, counts[name], n)
		}
	}
}

func TestObserverNoAllocs(t *testing.T) {
	o := New(nil).Observer("m", "1")
	if got := testing.AllocsPerRun(1000, func() {
		o.ExecutionStarted()
		o.ObserveExecution(4, time.Millisecond, true)
		o.ObserveRequest(time.Millisecond, 3*time.Millisecond, batch.OutcomeSuccess)
		o.ObserveRequest(-1, 0, batch.OutcomeRejected)
	}); got != 0 {
		t.Errorf("%v allocations per observation", got)
	}
}

// value reads a gauge or counter.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if g := pb.GetGauge(); g != nil {
		return g.GetValue()
	}
	return pb.GetCounter().GetValue()
}

// TestAnswered: each answer counts once, by stage and result; every
// series exists from the start, so that a dashboard reads 0, not nothing.
func TestAnswered(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Answered(nil, true)
	m.Answered(nil, true)
	m.Answered(api.Fail(api.KindUnavailable, "list workers: dial tcp: connection refused"), false)
	m.Answered(api.NotFound("unknown model: 'x'"), false)
	m.Answered(api.Fail(api.KindBusy, "queue full"), true)
	want := map[[2]string]float64{
		{StageModel, ResultSuccess}: 2, {StageFront, "unavailable"}: 1, {StageFront, "not_found"}: 1, {StageModel, "busy"}: 1,
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		if mf.GetName() != "taominer_front_requests_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			series++
			var k [2]string
			for _, l := range s.GetLabel() {
				if l.GetName() == "stage" {
					k[0] = l.GetValue()
				} else {
					k[1] = l.GetValue()
				}
			}
			if got := s.GetCounter().GetValue(); got != want[k] {
				t.Errorf("front_requests_total%v = %v, want %v", k, got, want[k])
			}
		}
	}
	if want := 2 * (1 + int(api.KindTooLarge) + 1); series != want {
		t.Errorf("%d series, want %d (2 stages × success and every kind)", series, want)
	}
}
