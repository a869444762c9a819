package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/miner/internal/batch"
)

// durationBuckets span 0.1 ms to 60 s, in seconds.
var durationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Failure reasons of taominer_inference_request_failure_total.
const (
	ReasonRejected  = "rejected"
	ReasonCancelled = "cancelled"
	ReasonExpired   = "expired"
	ReasonBackend   = "backend"
)

// Metrics are the instrumented (observed as they happen) per-model metrics:
// latency and batch-size histograms, failures by reason, and executing
// batches. It hands each model version a batch.Observer.
//
// Series are kept when a version is unloaded or reloaded: a reloaded
// version carries on its series, and the counters never reset. Their number
// is bounded by the model versions loaded since the miner started.
type Metrics struct {
	request, queue, compute, batchSize *prometheus.HistogramVec
	failures                           *prometheus.CounterVec
	executing                          *prometheus.GaugeVec
}

// New registers the metrics with reg (none if nil).
func New(reg prometheus.Registerer) *Metrics {
	labels := []string{"model", "version"}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "taominer_" + name, Help: help, Buckets: buckets}, labels)
	}
	m := &Metrics{
		request:   hist("request_duration_seconds", "End-to-end time of successful requests inside the miner, from enqueue to reply.", durationBuckets),
		queue:     hist("queue_duration_seconds", "Time requests waited in the queue until their batch started (requests that ran).", durationBuckets),
		compute:   hist("compute_duration_seconds", "Time of each successful model execution: merging inputs, the run, splitting outputs.", durationBuckets),
		batchSize: hist("batch_size", "Items per successful model execution.", []float64{1, 2, 4, 8, 16, 32, 64, 128}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_inference_request_failure_total",
			Help: "Failed requests by reason: rejected (queue full, 429), cancelled (caller left), expired (deadline passed), backend (the model run failed)."},
			[]string{"model", "version", "reason"}),
		executing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "taominer_inference_executing",
			Help: "Model executions (batches) running now."}, labels),
	}
	if reg != nil {
		reg.MustRegister(m.request, m.queue, m.compute, m.batchSize, m.failures, m.executing)
	}
	return m
}

// Observer returns the batch.Observer of one model version. Each call for
// the same version feeds the same series.
func (m *Metrics) Observer(model, version string) batch.Observer {
	o := &observer{
		request:   m.request.WithLabelValues(model, version),
		queue:     m.queue.WithLabelValues(model, version),
		compute:   m.compute.WithLabelValues(model, version),
		batchSize: m.batchSize.WithLabelValues(model, version),
		executing: m.executing.WithLabelValues(model, version),
	}
	o.failures[batch.OutcomeFailure] = m.failures.WithLabelValues(model, version, ReasonBackend)
	o.failures[batch.OutcomeRejected] = m.failures.WithLabelValues(model, version, ReasonRejected)
	o.failures[batch.OutcomeCancelled] = m.failures.WithLabelValues(model, version, ReasonCancelled)
	o.failures[batch.OutcomeExpired] = m.failures.WithLabelValues(model, version, ReasonExpired)
	return o
}

// observer holds one version's series, curried once.
type observer struct {
	request, queue, compute, batchSize prometheus.Observer
	executing                          prometheus.Gauge
	failures                           [batch.OutcomeExpired + 1]prometheus.Counter // by outcome; nil for success
}

func (o *observer) ObserveRequest(queue, total time.Duration, outcome batch.Outcome) {
	if queue >= 0 {
		o.queue.Observe(queue.Seconds())
	}
	if outcome == batch.OutcomeSuccess {
		o.request.Observe(total.Seconds())
		return
	}
	if int(outcome) < len(o.failures) {
		o.failures[outcome].Inc()
	}
}

func (o *observer) ExecutionStarted() { o.executing.Inc() }

func (o *observer) ObserveExecution(items int, compute time.Duration, ok bool) {
	o.executing.Dec()
	if ok {
		o.compute.Observe(compute.Seconds())
		o.batchSize.Observe(float64(items))
	}
}
