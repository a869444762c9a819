package api

// ServerMetadata is the body of GET /v2.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// TensorMetadata describes one model input or output; -1 marks a variable
// dimension.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the body of GET /v2/models/{m}[/versions/{v}].
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// RepositoryIndexRequest is the optional body of POST /v2/repository/index.
type RepositoryIndexRequest struct {
	Ready bool `json:"ready"`
}

// Model states in the repository index, as Triton names them.
const (
	StateReady       = "READY"
	StateUnavailable = "UNAVAILABLE"
	StateLoading     = "LOADING"
	StateUnloading   = "UNLOADING"
)

// RepositoryIndexEntry is one row of the repository index.
type RepositoryIndexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// StatDuration is a count of events and their total time in nanoseconds.
type StatDuration struct {
	Count uint64 `json:"count"`
	Ns    uint64 `json:"ns"`
}

// InferStatistics are the per-request durations of a model version.
type InferStatistics struct {
	Success       StatDuration `json:"success"`
	Fail          StatDuration `json:"fail"`
	Queue         StatDuration `json:"queue"`
	ComputeInput  StatDuration `json:"compute_input"`
	ComputeInfer  StatDuration `json:"compute_infer"`
	ComputeOutput StatDuration `json:"compute_output"`
	CacheHit      StatDuration `json:"cache_hit"`
	CacheMiss     StatDuration `json:"cache_miss"`
}

// BatchStatistics are the execution durations for one batch size.
type BatchStatistics struct {
	BatchSize     uint64       `json:"batch_size"`
	ComputeInput  StatDuration `json:"compute_input"`
	ComputeInfer  StatDuration `json:"compute_infer"`
	ComputeOutput StatDuration `json:"compute_output"`
}

// ModelStatistics are one model version's counters. InferenceCount counts
// batch items, ExecutionCount model executions.
type ModelStatistics struct {
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	LastInference  uint64            `json:"last_inference"`
	InferenceCount uint64            `json:"inference_count"`
	ExecutionCount uint64            `json:"execution_count"`
	InferenceStats InferStatistics   `json:"inference_stats"`
	BatchStats     []BatchStatistics `json:"batch_stats"`
	// Taominer additions: each request of InferenceStats.Fail counts in
	// exactly one of these, so that they add up to its count: refused with
	// 429 because the queue was full (rejected), its caller left
	// (cancelled) or its deadline passed (expired), before or while it ran,
	// or the model run failed (failed). QueueLength is the current queue
	// length; BatchSizeLimit the most items the batcher merges into one
	// execution now: max_batch_size, or below it while size tuning finds
	// smaller batches faster per item (0: the model does not batch).
	RejectedCount  uint64 `json:"rejected_count"`
	CancelledCount uint64 `json:"cancelled_count"`
	ExpiredCount   uint64 `json:"expired_count"`
	FailedCount    uint64 `json:"failed_count"`
	QueueLength    int    `json:"queue_length"`
	BatchSizeLimit int    `json:"batch_size_limit"`
}

// ModelStatsResponse is the body of GET /v2/models[/{m}[/versions/{v}]]/stats.
type ModelStatsResponse struct {
	ModelStats []ModelStatistics `json:"model_stats"`
}

// ModelConfig is the part of a model version's configuration that clients
// read to build requests (Triton's model configuration, as perf_analyzer
// reads it over gRPC). With MaxBatchSize > 0 the tensors' Dims exclude the
// batch dimension.
type ModelConfig struct {
	Name            string
	Platform        string
	MaxBatchSize    int
	Inputs          []TensorMetadata // Shape holds the dims
	Outputs         []TensorMetadata // Shape holds the dims
	DynamicBatching bool
}
