package engine

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
)

// Served describes one serving model version, for a worker that consumes
// its requests from a shared queue.
type Served struct {
	Name, Version string
	// MaxBatchSize is the version's max_batch_size (0: no batch axis).
	MaxBatchSize int
	// MaxQueueDelay is the version's batching window.
	MaxQueueDelay time.Duration
	// Instances is the number of concurrent executions.
	Instances int
	// Metadata is the KServe model metadata of the version.
	Metadata *api.ModelMetadata
	// DynamicBatching is the version's dynamic_batching config (nil: none),
	// which decides how a request's priority and timeout parameters apply.
	DynamicBatching *models.DynamicBatching
}

// Serving lists the serving model versions, sorted by name and version.
func (e *Engine) Serving() []Served {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []Served
	for _, name := range slices.Sorted(maps.Keys(e.models)) {
		m := e.models[name]
		var versions []string
		for _, n := range slices.Sorted(maps.Keys(m.ready)) {
			versions = append(versions, strconv.FormatInt(n, 10))
		}
		for _, n := range slices.Sorted(maps.Keys(m.ready)) {
			v := m.ready[n]
			s := Served{Name: name, Version: v.spec.Version, MaxBatchSize: v.spec.MaxBatchSize,
				MaxQueueDelay: e.opt.DefaultMaxQueueDelay, Instances: 1, DynamicBatching: v.spec.Config.DynamicBatching,
				Metadata: &api.ModelMetadata{Name: name, Versions: versions, Platform: models.Platform,
					Inputs: tensorMetadata(v.spec.Inputs), Outputs: tensorMetadata(v.spec.Outputs)}}
			if db := v.spec.Config.DynamicBatching; db != nil && db.MaxQueueDelayMicroseconds != nil {
				s.MaxQueueDelay = time.Duration(*db.MaxQueueDelayMicroseconds) * time.Microsecond
			}
			s.Instances = len(v.pool.instances)
			out = append(out, s)
		}
	}
	return out
}
