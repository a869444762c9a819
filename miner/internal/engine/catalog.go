package engine

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strconv"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// ModelMetadata describes a model version (or the newest ready version).
func (e *Engine) ModelMetadata(name, ver string) (*api.ModelMetadata, error) {
	v, err := e.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	var versions []string
	for _, n := range slices.Sorted(maps.Keys(e.models[name].ready)) {
		versions = append(versions, strconv.FormatInt(n, 10))
	}
	e.mu.RUnlock()
	md := &api.ModelMetadata{Name: name, Versions: versions, Platform: models.Platform,
		Inputs: tensorMetadata(v.spec.Inputs), Outputs: tensorMetadata(v.spec.Outputs)}
	return md, nil
}

func tensorMetadata(ts []models.TensorSpec) []api.TensorMetadata {
	out := make([]api.TensorMetadata, len(ts))
	for i, t := range ts {
		out[i] = api.TensorMetadata{Name: t.Name, Datatype: t.DataType.String(), Shape: slices.Clone(t.Shape)}
	}
	return out
}

// ModelReady returns nil when the model version can serve, or the error the
// protocol answers with (404 unknown, 503 not ready).
func (e *Engine) ModelReady(name, ver string) error {
	_, err := e.lookup(name, ver)
	return err
}

// Index lists every model the engine knows of and every model in the
// repository folder, with each version's state; readyOnly keeps the READY
// rows.
func (e *Engine) Index(ctx context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error) {
	entries, err := models.Scan(e.opt.Dir)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var rows []api.RepositoryIndexEntry
	known := map[string]bool{}
	for name, m := range e.models {
		known[name] = true
		for n, s := range m.status {
			row := api.RepositoryIndexEntry{Name: name, State: s.state, Reason: s.reason}
			if n > 0 {
				row.Version = strconv.FormatInt(n, 10)
			}
			rows = append(rows, row)
		}
	}
	for _, en := range entries {
		if known[en.Name] {
			continue
		}
		row := api.RepositoryIndexEntry{Name: en.Name}
		if en.Err != nil {
			row.State, row.Reason = api.StateUnavailable, en.Err.Error()
		}
		rows = append(rows, row)
	}
	if readyOnly {
		rows = slices.DeleteFunc(rows, func(r api.RepositoryIndexEntry) bool { return r.State != api.StateReady })
	}
	slices.SortFunc(rows, func(a, b api.RepositoryIndexEntry) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		an, _ := strconv.ParseInt(a.Version, 10, 64)
		bn, _ := strconv.ParseInt(b.Version, 10, 64)
		return cmp.Compare(an, bn)
	})
	return rows, nil
}

// Stats returns the statistics of one model version, of every ready version
// of one model (ver ""), or of every model (name "").
func (e *Engine) Stats(name, ver string) (*api.ModelStatsResponse, error) {
	var vs []*version
	switch {
	case name == "":
		e.mu.RLock()
		for _, m := range e.models {
			vs = append(vs, slices.Collect(maps.Values(m.ready))...)
		}
		e.mu.RUnlock()
	case ver == "":
		if _, err := e.lookup(name, ""); err != nil {
			return nil, err
		}
		e.mu.RLock()
		vs = slices.Collect(maps.Values(e.models[name].ready))
		e.mu.RUnlock()
	default:
		v, err := e.lookup(name, ver)
		if err != nil {
			return nil, err
		}
		vs = []*version{v}
	}
	slices.SortFunc(vs, func(a, b *version) int {
		return cmp.Or(cmp.Compare(a.spec.Name, b.spec.Name), cmp.Compare(len(a.spec.Version), len(b.spec.Version)), cmp.Compare(a.spec.Version, b.spec.Version))
	})
	resp := &api.ModelStatsResponse{ModelStats: make([]api.ModelStatistics, 0, len(vs))}
	for _, v := range vs {
		resp.ModelStats = append(resp.ModelStats, statistics(v))
	}
	return resp, nil
}

// Counted returns the statistics of every model version loaded since the
// engine started, serving or not, sorted by name and version: what a
// version served before it was unloaded or removed stays counted.
func (e *Engine) Counted() *api.ModelStatsResponse {
	e.mu.RLock()
	serving := map[versionKey]*version{}
	for _, m := range e.models {
		for _, v := range m.ready {
			serving[versionKey{v.spec.Name, v.spec.Version}] = v
		}
	}
	keys := slices.Collect(maps.Keys(e.counters))
	counters := maps.Clone(e.counters)
	e.mu.RUnlock()
	slices.SortFunc(keys, func(a, b versionKey) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(len(a.version), len(b.version)), cmp.Compare(a.version, b.version))
	})
	resp := &api.ModelStatsResponse{ModelStats: make([]api.ModelStatistics, 0, len(keys))}
	for _, k := range keys {
		if v := serving[k]; v != nil {
			resp.ModelStats = append(resp.ModelStats, statistics(v))
		} else {
			resp.ModelStats = append(resp.ModelStats, statisticsOf(k.name, k.version, counters[k].Snapshot()))
		}
	}
	return resp
}

func statistics(v *version) api.ModelStatistics {
	return statisticsOf(v.spec.Name, v.spec.Version, v.batcher.Stats())
}

func statisticsOf(name, ver string, s batch.Snapshot) api.ModelStatistics {
	d := func(x batch.Duration) api.StatDuration { return api.StatDuration{Count: x.Count, Ns: x.Ns} }
	ms := api.ModelStatistics{
		Name: name, Version: ver,
		InferenceCount: s.InferenceCount, ExecutionCount: s.ExecutionCount,
		InferenceStats: api.InferStatistics{
			Success: d(s.Success), Fail: d(s.Fail), Queue: d(s.Queue),
			ComputeInput: d(s.ComputeInput), ComputeInfer: d(s.ComputeInfer), ComputeOutput: d(s.ComputeOutput),
		},
		BatchStats:     []api.BatchStatistics{},
		RejectedCount:  s.Rejected,
		CancelledCount: s.Cancelled,
		ExpiredCount:   s.Expired,
		FailedCount:    s.Failed,
		QueueLength:    s.QueueLength,
		BatchSizeLimit: s.BatchLimit,
	}
	if !s.LastInference.IsZero() {
		ms.LastInference = uint64(s.LastInference.UnixMilli())
	}
	for _, size := range slices.Sorted(maps.Keys(s.Batches)) {
		b := s.Batches[size]
		ms.BatchStats = append(ms.BatchStats, api.BatchStatistics{BatchSize: uint64(size),
			ComputeInput: d(b.ComputeInput), ComputeInfer: d(b.ComputeInfer), ComputeOutput: d(b.ComputeOutput)})
	}
	return ms
}

// warmupSizes are the batch sizes a model is run at before it reports
// ready: 1, 2, 4, ... up to its max batch size, the max itself, and its
// preferred sizes.
func warmupSizes(spec *models.Spec) []int64 {
	sizes := []int64{1}
	for n := 2; n < spec.MaxBatchSize; n *= 2 {
		sizes = append(sizes, int64(n))
	}
	if spec.MaxBatchSize > 1 {
		sizes = append(sizes, int64(spec.MaxBatchSize))
	}
	if db := spec.Config.DynamicBatching; db != nil {
		for _, p := range db.PreferredBatchSize {
			if p <= spec.MaxBatchSize {
				sizes = append(sizes, int64(p))
			}
		}
	}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// warmup runs the model with zero inputs at every warm-up size, so the
// first real request does not pay for lazy initialisation and a model that
// cannot run fails to load. Models with variable non-batch dimensions are
// not warmed up (no shape to pick; a config's input dims can fix them).
func warmup(ctx context.Context, s models.Session, spec *models.Spec) error {
	sizes := warmupSizes(spec)
	for _, n := range sizes {
		inputs := make([]tensor.Tensor, len(spec.Inputs))
		for i, in := range spec.Inputs {
			shape := slices.Clone(in.Shape)
			for k, d := range shape {
				switch {
				case d >= 0:
				case k == 0 && spec.MaxBatchSize > 0:
					shape[k] = n
				default:
					return nil
				}
			}
			t := tensor.Tensor{Name: in.Name, DataType: in.DataType, Shape: shape}
			count := tensor.NumElements(shape)
			if in.DataType == tensor.Bytes {
				t.Strings = make([][]byte, count)
			} else {
				t.Data = make([]byte, count*int64(in.DataType.Size()))
			}
			inputs[i] = t
		}
		if _, err := s.Run(ctx, inputs); err != nil {
			return err
		}
	}
	return nil
}
