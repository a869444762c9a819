// Package metrics exports the miner's per-model metrics to Prometheus. The
// Collector reads the counters of the statistics extension at scrape time,
// with the meanings of Triton's nv_inference_* families under the taominer_
// prefix; Metrics observes latencies, batch sizes and failures as they
// happen, through the batcher's Observer hook.
package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
)

// Source reports the statistics of every model version loaded since the
// start (serving or not, so that the counters never go back when one is
// reloaded or removed), the repository index (for readiness) and the load
// failures per model.
type Source interface {
	Counted() *api.ModelStatsResponse
	Index(ctx context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error)
	LoadFailures() map[string]uint64
}

type desc struct {
	d     *prometheus.Desc
	kind  prometheus.ValueType
	value func(*api.ModelStatistics) float64
}

// Collector turns a StatsSource into Prometheus metrics.
type Collector struct {
	src          Source
	descs        []desc
	ready        *prometheus.Desc
	loadFailures *prometheus.Desc
}

// NewCollector returns a collector over src.
func NewCollector(src Source) *Collector {
	labels := []string{"model", "version"}
	counter := func(name, help string, f func(*api.ModelStatistics) float64) desc {
		return desc{prometheus.NewDesc("taominer_"+name, help, labels, nil), prometheus.CounterValue, f}
	}
	us := func(d api.StatDuration) float64 { return float64(d.Ns) / 1e3 }
	return &Collector{src: src,
		ready:        prometheus.NewDesc("taominer_model_ready", "1 for each model version that is serving, 0 for one that is known but not serving.", labels, nil),
		loadFailures: prometheus.NewDesc("taominer_model_load_failures_total", "Failed loads of a model (startup, API, folder changes).", []string{"model"}, nil),
		descs: []desc{
			counter("inference_request_success_total", "Requests answered successfully.", func(s *api.ModelStatistics) float64 { return float64(s.InferenceStats.Success.Count) }),
			counter("inference_count_total", "Batch items inferred (a request of batch 4 counts 4).", func(s *api.ModelStatistics) float64 { return float64(s.InferenceCount) }),
			counter("inference_exec_count_total", "Model executions; inference_count/exec_count is the average batch size.", func(s *api.ModelStatistics) float64 { return float64(s.ExecutionCount) }),
			counter("inference_compute_input_duration_us_total", "Summed time merging inputs into batches, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeInput) }),
			counter("inference_compute_infer_duration_us_total", "Summed model execution time, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeInfer) }),
			counter("inference_compute_output_duration_us_total", "Summed time splitting outputs, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeOutput) }),
			counter("inference_rejected_total", "Requests refused with 429 because the model's queue was full (the same as inference_request_failure_total{reason=\"rejected\"}).", func(s *api.ModelStatistics) float64 { return float64(s.RejectedCount) }),
			counter("inference_cancelled_total", "Requests whose caller left, before or while they ran (the same as inference_request_failure_total{reason=\"cancelled\"}).", func(s *api.ModelStatistics) float64 { return float64(s.CancelledCount) }),
			counter("inference_expired_total", "Requests whose deadline passed, before or while they ran (the same as inference_request_failure_total{reason=\"expired\"}).", func(s *api.ModelStatistics) float64 { return float64(s.ExpiredCount) }),
			{prometheus.NewDesc("taominer_queue_depth", "Requests queued, not yet executing.", labels, nil), prometheus.GaugeValue,
				func(s *api.ModelStatistics) float64 { return float64(s.QueueLength) }},
			{prometheus.NewDesc("taominer_batch_size_limit", "The most items the batcher merges into one execution now: max_batch_size, or less while size tuning measures smaller batches faster per item (0: the model does not batch).", labels, nil), prometheus.GaugeValue,
				func(s *api.ModelStatistics) float64 { return float64(s.BatchSizeLimit) }},
			{prometheus.NewDesc("taominer_inference_pending_request_count", "Requests queued, not yet executing (same as taominer_queue_depth; kept for existing dashboards).", labels, nil), prometheus.GaugeValue,
				func(s *api.ModelStatistics) float64 { return float64(s.QueueLength) }},
		}}
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.d
	}
	ch <- c.ready
	ch <- c.loadFailures
}

// Collect reads the statistics and sends one sample per family and model
// version.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for model, n := range c.src.LoadFailures() {
		ch <- prometheus.MustNewConstMetric(c.loadFailures, prometheus.CounterValue, float64(n), model)
	}
	if rows, err := c.src.Index(context.Background(), false); err != nil {
		ch <- prometheus.NewInvalidMetric(c.ready, err)
	} else {
		for _, r := range rows {
			if r.Version == "" {
				continue // a model that failed as a whole has no version to label
			}
			v := 0.0
			if r.State == api.StateReady {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, v, r.Name, r.Version)
		}
	}
	resp := c.src.Counted()
	for i := range resp.ModelStats {
		s := &resp.ModelStats[i]
		for _, d := range c.descs {
			ch <- prometheus.MustNewConstMetric(d.d, d.kind, d.value(s), s.Name, s.Version)
		}
	}
}
