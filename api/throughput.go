package api

import "time"

// ThroughputStats is the body of GET /v1/stats: recent throughput and
// latency of every model version, for a dashboard.
type ThroughputStats struct {
	// Time is the end of the last completed second, which every window
	// ends at.
	Time time.Time `json:"time"`
	// UptimeSeconds is how long the miner has been serving.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Models are sorted by name, then version (numerically). On a node
	// with a Redis queue they cover every live worker: windows are the
	// node's own end-to-end view, queue the live workers' sum, totals the
	// live workers' sum plus what departed workers served (they never go
	// down when a worker dies).
	Models []ModelThroughput `json:"models"`
	// Workers lists, on a node with a Redis queue, every live worker with
	// the statistics it last announced (sorted by id).
	Workers []WorkerThroughput `json:"workers,omitempty"`
	// GPUs lists the GPUs NVML reports on a node that runs models, with
	// their latest readings (polled every few seconds); absent without
	// GPUs.
	GPUs []GPUStats `json:"gpus,omitempty"`
}

// GPUStats is one GPU's entry of ThroughputStats: NVML's latest readings. A
// reading the GPU does not support is 0.
type GPUStats struct {
	Index              int     `json:"index"`
	Name               string  `json:"name"`
	UUID               string  `json:"uuid"`
	MemoryTotalBytes   uint64  `json:"memory_total_bytes"`
	MemoryFreeBytes    uint64  `json:"memory_free_bytes"`
	MemoryUsedBytes    uint64  `json:"memory_used_bytes"`
	UtilizationRatio   float64 `json:"utilization_ratio"`
	TemperatureCelsius float64 `json:"temperature_celsius"`
	PowerWatts         float64 `json:"power_watts"`
}

// WorkerThroughput is one Redis worker's entry of ThroughputStats.
type WorkerThroughput struct {
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
	// Published is when the worker wrote these figures (its clock); they
	// are at most its heartbeat period old.
	Published time.Time         `json:"published"`
	Models    []ModelThroughput `json:"models"`
}

// ModelThroughput is one model version's entry of ThroughputStats.
type ModelThroughput struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ready reports whether the version is serving.
	Ready bool `json:"ready"`
	// QueueDepth is the requests waiting now; Executing the batches
	// running now.
	QueueDepth int               `json:"queue_depth"`
	Executing  int               `json:"executing"`
	Windows    ThroughputWindows `json:"windows"`
	Totals     ThroughputTotals  `json:"totals"`
}

// ThroughputWindows are the rolling windows of a model version, each over
// the last completed seconds.
type ThroughputWindows struct {
	Last1s  ThroughputWindow `json:"1s"`
	Last10s ThroughputWindow `json:"10s"`
	Last60s ThroughputWindow `json:"60s"`
}

// ThroughputWindow is the activity of one model version over a window.
type ThroughputWindow struct {
	// InferPerS is batch items inferred per second (a request of batch 4
	// counts 4), from successful executions.
	InferPerS float64 `json:"infer_per_s"`
	// RequestsPerS is requests answered per second, whatever their outcome.
	RequestsPerS float64 `json:"requests_per_s"`
	// P50Ms, P95Ms and P99Ms are percentiles of the end-to-end time of the
	// successful requests, milliseconds; 0 when there were none.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	// AvgBatch is items per successful execution; 0 when there were none.
	AvgBatch float64 `json:"avg_batch"`
}

// ThroughputTotals are a model version's counters since the miner started
// (they go on across reloads), as the statistics extension reports them.
type ThroughputTotals struct {
	InferenceCount uint64 `json:"inference_count"`
	ExecutionCount uint64 `json:"execution_count"`
	Success        uint64 `json:"success"`
	// Failure counts every request that did not succeed; it is the sum of
	// Rejected, Cancelled, Expired and Failed (the model run failed), each
	// request in one of them.
	Failure   uint64 `json:"failure"`
	Rejected  uint64 `json:"rejected"`
	Cancelled uint64 `json:"cancelled"`
	Expired   uint64 `json:"expired"`
	Failed    uint64 `json:"failed"`
}
