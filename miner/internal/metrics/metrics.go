// Package metrics exports the per-model counters of the statistics extension
// to Prometheus at scrape time, with the meanings of Triton's nv_inference_*
// families under the taominer_ prefix.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
)

// StatsSource reports the statistics of every loaded model version.
type StatsSource interface {
	Stats(model, version string) (*api.ModelStatsResponse, error)
}

type desc struct {
	d     *prometheus.Desc
	kind  prometheus.ValueType
	value func(*api.ModelStatistics) float64
}

// Collector turns a StatsSource into Prometheus metrics.
type Collector struct {
	src   StatsSource
	descs []desc
}

// NewCollector returns a collector over src.
func NewCollector(src StatsSource) *Collector {
	labels := []string{"model", "version"}
	counter := func(name, help string, f func(*api.ModelStatistics) float64) desc {
		return desc{prometheus.NewDesc("taominer_"+name, help, labels, nil), prometheus.CounterValue, f}
	}
	us := func(d api.StatDuration) float64 { return float64(d.Ns) / 1e3 }
	return &Collector{src: src, descs: []desc{
		counter("inference_request_success_total", "Requests answered successfully.", func(s *api.ModelStatistics) float64 { return float64(s.InferenceStats.Success.Count) }),
		counter("inference_request_failure_total", "Requests that failed after being queued.", func(s *api.ModelStatistics) float64 { return float64(s.InferenceStats.Fail.Count) }),
		counter("inference_count_total", "Batch items inferred (a request of batch 4 counts 4).", func(s *api.ModelStatistics) float64 { return float64(s.InferenceCount) }),
		counter("inference_exec_count_total", "Model executions; inference_count/exec_count is the average batch size.", func(s *api.ModelStatistics) float64 { return float64(s.ExecutionCount) }),
		counter("inference_request_duration_us_total", "Summed end-to-end time of successful requests inside the miner, microseconds.", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.Success) }),
		counter("inference_queue_duration_us_total", "Summed time requests waited in the queue, microseconds.", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.Queue) }),
		counter("inference_compute_input_duration_us_total", "Summed time merging inputs into batches, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeInput) }),
		counter("inference_compute_infer_duration_us_total", "Summed model execution time, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeInfer) }),
		counter("inference_compute_output_duration_us_total", "Summed time splitting outputs, microseconds (per request).", func(s *api.ModelStatistics) float64 { return us(s.InferenceStats.ComputeOutput) }),
		counter("inference_rejected_total", "Requests refused with 429 because the model's queue was full.", func(s *api.ModelStatistics) float64 { return float64(s.RejectedCount) }),
		counter("inference_cancelled_total", "Requests dropped before running: caller gone or deadline passed.", func(s *api.ModelStatistics) float64 { return float64(s.CancelledCount) }),
		{prometheus.NewDesc("taominer_inference_pending_request_count", "Requests queued, not yet executing.", labels, nil), prometheus.GaugeValue,
			func(s *api.ModelStatistics) float64 { return float64(s.QueueLength) }},
	}}
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.d
	}
}

// Collect reads the statistics and sends one sample per family and model
// version.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	resp, err := c.src.Stats("", "")
	if err != nil {
		for _, d := range c.descs {
			ch <- prometheus.NewInvalidMetric(d.d, err)
		}
		return
	}
	for i := range resp.ModelStats {
		s := &resp.ModelStats[i]
		for _, d := range c.descs {
			ch <- prometheus.MustNewConstMetric(d.d, d.kind, d.value(s), s.Name, s.Version)
		}
	}
}
