package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
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
	front                              frontCounters
}

// Stages of taominer_front_requests_total: where a request's answer came
// from.
const (
	// StageFront: the front answered before submitting it (the model
	// lookup: unknown, not ready, Redis unreachable; the parameters; the
	// inputs).
	StageFront = "front"
	// StageModel: it was submitted to a model version's queue (the local
	// batcher, or the workers through Redis).
	StageModel = "model"
)

// ResultSuccess is the result label of a request answered with outputs;
// a failed one carries its kind (api.Kind's names).
const ResultSuccess = "success"

// frontCounters are taominer_front_requests_total's series, by stage
// (front, model) and result (success, then each api.Kind), curried once.
type frontCounters [2][]prometheus.Counter

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
	front := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_front_requests_total",
		Help: "Inference requests the front answered (KServe and axon), each once: by stage (front: answered before " +
			"reaching a model's queue, e.g. unknown model, not ready, Redis unreachable, bad input; model: submitted) " +
			"and result (success, or the failure's kind: bad_input, not_found, busy, unavailable, expired, cancelled, too_large, internal)."},
		[]string{"stage", "result"})
	for i, stage := range []string{StageFront, StageModel} {
		m.front[i] = []prometheus.Counter{front.WithLabelValues(stage, ResultSuccess)}
		for k := api.KindInternal; k <= api.KindTooLarge; k++ {
			m.front[i] = append(m.front[i], front.WithLabelValues(stage, k.String()))
		}
	}
	if reg != nil {
		reg.MustRegister(m.request, m.queue, m.compute, m.batchSize, m.failures, m.executing, front)
	}
	return m
}

// Answered counts one request the inference front answered, in
// taominer_front_requests_total (front.Recorder).
func (m *Metrics) Answered(err error, submitted bool) {
	stage := 0
	if submitted {
		stage = 1
	}
	i := 0
	if err != nil {
		i = 1 + int(min(api.KindOf(err), api.KindTooLarge))
	}
	m.front[stage][i].Inc()
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
