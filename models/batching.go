package models

import "math"

// DynamicBatching holds the batcher's knobs.
type DynamicBatching struct {
	// PreferredBatchSize lists batch sizes at which a batch that is waiting
	// out MaxQueueDelayMicroseconds is released early. Without a delay the
	// batcher already sends everything queued, up to max_batch_size.
	PreferredBatchSize []int `yaml:"preferred_batch_size"`
	// MaxQueueDelayMicroseconds is how long the batcher may hold the oldest
	// queued request to fill a batch. 0 runs whatever queued while the model
	// was busy as one batch, and a lone request at once.
	MaxQueueDelayMicroseconds *uint64 `yaml:"max_queue_delay_microseconds"`
	// SizeTuning lets the batcher cap batches below max_batch_size at the
	// size it measures to run fastest per item (on a CPU a big batch can
	// run each item slower than a small one). Off by default.
	SizeTuning bool `yaml:"size_tuning"`
	// PriorityLevels is how many priority levels requests may pick from
	// with parameters.priority, 1 being the highest. 0 turns priorities
	// off: every request is ranked alike (and parameters.priority must be 0
	// or absent).
	PriorityLevels uint64 `yaml:"priority_levels"`
	// DefaultPriorityLevel is the level of requests that give none, or 0;
	// with PriorityLevels it must be in 1..PriorityLevels.
	DefaultPriorityLevel uint64 `yaml:"default_priority_level"`
	// DefaultQueuePolicy holds the queue's bound and request timeouts.
	DefaultQueuePolicy *QueuePolicy `yaml:"default_queue_policy"`
}

// MaxPriorityLevels bounds dynamic_batching.priority_levels.
const MaxPriorityLevels = 1 << 20

// QueuePolicy is Triton's ModelQueuePolicy for the model's queue.
type QueuePolicy struct {
	// TimeoutAction is what becomes of a request whose timeout passes
	// before it runs: REJECT (the default, and the only action supported)
	// drops it and answers it with an error. Triton's DELAY is refused.
	TimeoutAction string `yaml:"timeout_action"`
	// DefaultTimeoutMicroseconds is the timeout of requests that set none
	// in parameters.timeout; 0 means none (the server's --default-timeout
	// applies).
	DefaultTimeoutMicroseconds uint64 `yaml:"default_timeout_microseconds"`
	// AllowTimeoutOverride lets a request's parameters.timeout replace
	// the default: any timeout when there is no default, a shorter one
	// otherwise (as in Triton). Absent means true; false ignores the
	// request's timeout.
	AllowTimeoutOverride *bool `yaml:"allow_timeout_override"`
	// MaxQueueSize bounds the model's queue, overriding the server's
	// --max-queue-size; 0 keeps the server's.
	MaxQueueSize uint32 `yaml:"max_queue_size"`
}

// TimeoutOverride reports whether a request's parameters.timeout may
// replace the default timeout.
func (p *QueuePolicy) TimeoutOverride() bool {
	return p == nil || p.AllowTimeoutOverride == nil || *p.AllowTimeoutOverride
}

// maxMicroseconds is the largest microsecond count a time.Duration holds.
const maxMicroseconds = math.MaxInt64 / 1000
