package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/metrics"
	"github.com/taominer/taominer/miner/internal/throughput"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

var _ server.ThroughputSource = statsSource{}

// rowSumRepo is a repository with row_sum (FP32 x [N,2] -> its row sums).
func rowSumRepo(t *testing.T) string {
	dir := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(dir, "row_sum.onnx"))
	return dir
}

func rowSumRows(rows int) *api.InferRequest {
	v := make([]float32, 2*rows)
	for i := range v {
		v[i] = float32(i)
	}
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{int64(rows), 2}, Data: modeltest.F32Bytes(v...)}
	return &api.InferRequest{Inputs: []tensor.Tensor{x}}
}

// scrape parses /metrics.
func scrape(t *testing.T, tn *testNode) map[string]*dto.MetricFamily {
	t.Helper()
	r := tn.do(t, http.MethodGet, "/metrics", nil, nil)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// sample finds the metric of a family with the given labels (others
// ignored).
func sample(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

func v1stats(t *testing.T, tn *testNode) (api.ThroughputStats, []byte) {
	t.Helper()
	r := tn.do(t, http.MethodGet, "/v1/stats", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("/v1/stats: %d %s", r.status, r.body)
	}
	var s api.ThroughputStats
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode /v1/stats: %v\n%s", err, r.body)
	}
	return s, r.body
}

// TestMetricsAgree sends known traffic and checks that the histograms and
// counters of /metrics, the statistics extension and /v1/stats agree.
func TestMetricsAgree(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), nil)
	sizes := []int{1, 3, 3, 5, 2}
	items := 0
	for _, n := range sizes {
		tn.infer(t, "/v2/models/row_sum/infer", rowSumRows(n), n%2 == 0)
		items += n
	}
	st := modelStats(t, tn, "row_sum")
	if st.InferenceCount != uint64(items) || st.InferenceStats.Success.Count != uint64(len(sizes)) {
		t.Fatalf("stats: %d items, %d successes; want %d, %d", st.InferenceCount, st.InferenceStats.Success.Count, items, len(sizes))
	}
	mfs := scrape(t, tn)
	lv := map[string]string{"model": "row_sum", "version": "1"}
	hist := func(name string) *dto.Histogram {
		m := sample(mfs, name, lv)
		if m == nil || m.GetHistogram() == nil {
			t.Fatalf("/metrics lacks histogram %s%v", name, lv)
		}
		return m.GetHistogram()
	}
	counter := func(name string, labels map[string]string) float64 {
		m := sample(mfs, name, labels)
		if m == nil {
			t.Fatalf("/metrics lacks %s%v", name, labels)
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"request_duration count", hist("taominer_request_duration_seconds").GetSampleCount(), st.InferenceStats.Success.Count},
		{"queue_duration count", hist("taominer_queue_duration_seconds").GetSampleCount(), st.InferenceStats.Queue.Count},
		{"compute_duration count", hist("taominer_compute_duration_seconds").GetSampleCount(), st.ExecutionCount},
		{"batch_size count", hist("taominer_batch_size").GetSampleCount(), st.ExecutionCount},
		{"batch_size sum", uint64(hist("taominer_batch_size").GetSampleSum()), st.InferenceCount},
		{"inference_count_total", uint64(counter("taominer_inference_count_total", lv)), st.InferenceCount},
		{"success_total", uint64(counter("taominer_inference_request_success_total", lv)), st.InferenceStats.Success.Count},
		{"queue_depth", uint64(counter("taominer_queue_depth", lv)), uint64(st.QueueLength)},
		{"executing", uint64(counter("taominer_inference_executing", lv)), 0},
	}
	for _, reason := range []string{metrics.ReasonRejected, metrics.ReasonCancelled, metrics.ReasonExpired, metrics.ReasonBackend} {
		checks = append(checks, struct {
			name      string
			got, want uint64
		}{"failure " + reason, uint64(counter("taominer_inference_request_failure_total",
			map[string]string{"model": "row_sum", "version": "1", "reason": reason})), 0})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	// The request histogram's sum is the statistics' summed duration.
	if got, want := hist("taominer_request_duration_seconds").GetSampleSum(), float64(st.InferenceStats.Success.Ns)/1e9; got <= 0 || got > want*1.5+1e-3 {
		t.Errorf("request_duration sum %v s, statistics %v s", got, want)
	}

	s, _ := v1stats(t, tn)
	if len(s.Models) != 1 {
		t.Fatalf("/v1/stats models: %+v", s.Models)
	}
	m := s.Models[0]
	want := api.ThroughputTotals{InferenceCount: st.InferenceCount, ExecutionCount: st.ExecutionCount,
		Success: st.InferenceStats.Success.Count, Failure: st.InferenceStats.Fail.Count,
		Rejected: st.RejectedCount, Cancelled: st.CancelledCount, Expired: st.ExpiredCount, Failed: st.FailedCount}
	if m.Name != "row_sum" || m.Version != "1" || !m.Ready || m.Totals != want {
		t.Errorf("/v1/stats model %+v, want row_sum 1 ready with totals %+v", m, want)
	}
	// Within a few seconds all the traffic shows in the 60s window (the
	// traffic may straddle a second, whose bucket closes later: a partial
	// count on the way is fine, more than was sent never is).
	deadline := time.Now().Add(3 * time.Second)
	for {
		s, _ = v1stats(t, tn)
		w := s.Models[0].Windows.Last60s
		got := w.InferPerS * 60
		if got > float64(items)+0.01 {
			t.Fatalf("60s window: %v items/s = %v items, more than the %d sent", w.InferPerS, got, items)
		}
		if got > float64(items)-0.01 {
			if w.P50Ms <= 0 || w.P99Ms < w.P50Ms || w.AvgBatch <= 0 {
				t.Errorf("60s window %+v: want positive percentiles and batch", w)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("60s window: %v items/s = %v items after the traffic, want %d: %+v", w.InferPerS, got, items, s.Models[0].Windows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestV1StatsShape checks the exact JSON keys of GET /v1/stats, which the
// dashboard codes against.
func TestV1StatsShape(t *testing.T) {
	tn := startNode(t, rowSumRepo(t), nil)
	tn.infer(t, "/v2/models/row_sum/infer", rowSumRows(2), false)
	s, body := v1stats(t, tn)
	if s.Time.IsZero() || s.Time.Nanosecond() != 0 || s.UptimeSeconds <= 0 {
		t.Errorf("time %v, uptime %v: want a whole second and a positive uptime", s.Time, s.UptimeSeconds)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	keys(t, "top level", raw, "time", "uptime_seconds", "models")
	models := raw["models"].([]any)
	if len(models) != 1 {
		t.Fatalf("models: %v", models)
	}
	m := models[0].(map[string]any)
	keys(t, "model", m, "name", "version", "ready", "queue_depth", "executing", "windows", "totals")
	windows := m["windows"].(map[string]any)
	keys(t, "windows", windows, "1s", "10s", "60s")
	for _, w := range []string{"1s", "10s", "60s"} {
		keys(t, "window "+w, windows[w].(map[string]any), "infer_per_s", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "avg_batch")
	}
	keys(t, "totals", m["totals"].(map[string]any), "inference_count", "execution_count", "success", "failure", "rejected", "cancelled", "expired", "failed")
	if _, err := time.Parse(time.RFC3339, raw["time"].(string)); err != nil {
		t.Errorf("time %q is not RFC 3339: %v", raw["time"], err)
	}
}

// keys checks that obj has exactly the keys want.
func keys(t *testing.T, what string, obj map[string]any, want ...string) {
	t.Helper()
	if len(obj) != len(want) {
		t.Errorf("%s has keys %v, want %v", what, obj, want)
	}
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s lacks key %q", what, k)
		}
	}
}

// nopRunner answers at once with its inputs.
type nopRunner struct{}

func (nopRunner) Run(_ context.Context, in []tensor.Tensor) ([]tensor.Tensor, error) { return in, nil }

// BenchmarkBatcherObserver measures the batcher's cost per request with a
// no-op model, with and without the metrics and throughput observers.
func BenchmarkBatcherObserver(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run("observer="+strconv.FormatBool(on), func(b *testing.B) {
			opt := batch.Options{MaxBatchSize: 8, MaxQueueSize: 1 << 16}
			if on {
				met, windows := metrics.New(nil), throughput.New(nil)
				opt.Observer = batch.Observers(met.Observer("m", "1"), windows.Observer("m", "1"))
			}
			bt := batch.New(nopRunner{}, opt)
			defer bt.Close(context.Background())
			x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: make([]byte, 8)}
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				in := []tensor.Tensor{x}
				for pb.Next() {
					if _, err := bt.Submit(context.Background(), in, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkServedObserver measures served requests end to end (HTTP, JSON,
// ONNX Runtime row_sum) with and without the observers.
func BenchmarkServedObserver(b *testing.B) {
	dir := b.TempDir()
	copyFile(b, modeltest.Path(b, "row_sum.onnx"), filepath.Join(dir, "row_sum.onnx"))
	body, _ := api.AppendInferRequest(nil, rowSumRows(1), false)
	for _, on := range []bool{false, true} {
		b.Run("observer="+strconv.FormatBool(on), func(b *testing.B) {
			tn := startNodeWith(b, dir, nil, nodeOptions{noObservers: !on})
			url := tn.url + "/v2/models/row_sum/infer"
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := http.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// TestCountersSurviveReload is issue 20's reload: two requests, then a new
// model file; the counters of /metrics, the statistics extension and
// /v1/stats go on from where they were (they went 2 → 0), and they agree.
func TestCountersSurviveReload(t *testing.T) {
	dir := rowSumRepo(t)
	tn := startNode(t, dir, pollFast)
	for _, n := range []int{2, 3} {
		tn.infer(t, "/v2/models/row_sum/infer", rowSumRows(n), false)
	}
	before := checkFiguresAgree(t, tn, "row_sum", "1")
	if before.InferenceStats.Success.Count != 2 || before.InferenceCount != 5 {
		t.Fatalf("before the reload: success %d, inference_count %d; want 2, 5", before.InferenceStats.Success.Count, before.InferenceCount)
	}
	placeAtomically(t, filepath.Join(dir, "row_sum.onnx"), rowSumTimes4(t))
	tries := uint64(0)
	waitFor(t, "row_sum to answer y = 4x", func() bool {
		tries++
		y := modeltest.F32s(tn.infer(t, "/v2/models/row_sum/infer", rowSumInfer(), false).Outputs[1].Data)
		return y[0] == 4
	})
	after := checkFiguresAgree(t, tn, "row_sum", "1")
	if after.InferenceStats.Success.Count != 2+tries || after.InferenceCount != 5+tries {
		t.Errorf("after the reload: success %d, inference_count %d; want %d, %d (nothing taken back)",
			after.InferenceStats.Success.Count, after.InferenceCount, 2+tries, 5+tries)
	}
	t.Logf("success_total %d → %d, inference_count_total %d → %d across the reload (%d requests after it)",
		before.InferenceStats.Success.Count, after.InferenceStats.Success.Count, before.InferenceCount, after.InferenceCount, tries)
}

// checkFiguresAgree checks that every figure of one model version is the
// same in /metrics, /v2/models/stats and /v1/stats, and that the failures
// add up: each failed request in exactly one reason. It returns the
// statistics.
func checkFiguresAgree(t *testing.T, tn *testNode, model, version string) api.ModelStatistics {
	t.Helper()
	st := modelStats(t, tn, model)
	mfs := scrape(t, tn)
	lv := map[string]string{"model": model, "version": version}
	counter := func(name string, labels map[string]string) uint64 {
		m := sample(mfs, name, labels)
		if m == nil {
			return 0
		}
		return uint64(m.GetCounter().GetValue())
	}
	reason := func(r string) uint64 {
		return counter("taominer_inference_request_failure_total", map[string]string{"model": model, "version": version, "reason": r})
	}
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"success_total", counter("taominer_inference_request_success_total", lv), st.InferenceStats.Success.Count},
		{"inference_count_total", counter("taominer_inference_count_total", lv), st.InferenceCount},
		{"batch_size sum", uint64(sample(mfs, "taominer_batch_size", lv).GetHistogram().GetSampleSum()), st.InferenceCount},
		{"failure_total{reason=rejected}", reason(metrics.ReasonRejected), st.RejectedCount},
		{"failure_total{reason=cancelled}", reason(metrics.ReasonCancelled), st.CancelledCount},
		{"failure_total{reason=expired}", reason(metrics.ReasonExpired), st.ExpiredCount},
		{"failure_total{reason=backend}", reason(metrics.ReasonBackend), st.FailedCount},
		{"rejected_total", counter("taominer_inference_rejected_total", lv), st.RejectedCount},
		{"cancelled_total", counter("taominer_inference_cancelled_total", lv), st.CancelledCount},
		{"expired_total", counter("taominer_inference_expired_total", lv), st.ExpiredCount},
		{"fail count = sum of the reasons", st.RejectedCount + st.CancelledCount + st.ExpiredCount + st.FailedCount, st.InferenceStats.Fail.Count},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s %s/%s = %d, want %d", c.name, model, version, c.got, c.want)
		}
	}
	s, _ := v1stats(t, tn)
	for _, m := range s.Models {
		if m.Name == model && m.Version == version && m.Totals != totals(&st) {
			t.Errorf("/v1/stats totals of %s/%s = %+v, want %+v", model, version, m.Totals, totals(&st))
		}
	}
	return st
}
