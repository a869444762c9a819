package redisnode

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
)

// announcedStats is what a worker announces about one version at each
// heartbeat: its statistics-extension counters and its /v1/stats row.
type announcedStats struct {
	Statistics api.ModelStatistics `json:"statistics"`
	Throughput api.ModelThroughput `json:"throughput"`
}

// StatsFunc returns a worker's statistics of one version; ok is false
// when it has none (the version is not loaded).
type StatsFunc func(name, version string) (stats api.ModelStatistics, row api.ModelThroughput, ok bool)

// announceStats turns a StatsFunc into the announcer's hook.
func announceStats(f StatsFunc) func(name, version string) json.RawMessage {
	if f == nil {
		return nil
	}
	return func(name, version string) json.RawMessage {
		st, row, ok := f(name, version)
		if !ok {
			return nil
		}
		b, err := json.Marshal(announcedStats{Statistics: st, Throughput: row})
		if err != nil {
			return nil
		}
		return b
	}
}

// workerStats decodes the stats a worker announced for m; ok is false when
// it announced none (an older worker, or a version not loaded).
func workerStats(m redisq.AnnouncedModel) (announcedStats, bool) {
	var st announcedStats
	if len(m.Stats) == 0 || json.Unmarshal(m.Stats, &st) != nil {
		return st, false
	}
	return st, true
}

// outcome classifies a submission's error (already of a kind) the way the
// batcher's observers do.
func outcome(err error) batch.Outcome {
	if err == nil {
		return batch.OutcomeSuccess
	}
	switch api.KindOf(err) {
	case api.KindExpired:
		return batch.OutcomeExpired
	case api.KindCancelled:
		return batch.OutcomeCancelled
	case api.KindBusy:
		return batch.OutcomeRejected
	}
	return batch.OutcomeFailure
}

// observe records one submitted request in the front's windows and its
// observer.
func (f *Front) observe(name, version string, took time.Duration, items int, err error) {
	oc := outcome(err)
	w := f.windows.Observer(name, version)
	w.ObserveRequest(0, took, oc)
	if oc == batch.OutcomeSuccess {
		w.ObserveItems(items)
	}
	if f.opt.Observer != nil {
		f.opt.Observer(name, version).ObserveRequest(0, took, oc)
	}
}

// Stats sums the statistics the live workers last announced (the
// statistics extension's counters add up across workers; last_inference is
// the latest), plus what departed workers served (see ledger), so that the
// counters never go down. An unknown model is 404 as for inference.
func (f *Front) Stats(name, ver string) (*api.ModelStatsResponse, error) {
	if err := f.dir.Healthy(); err != nil {
		return nil, api.Fail(api.KindUnavailable, "statistics: %v", err)
	}
	if name != "" {
		if f.dir.Model(name, ver).State == redisq.ModelUnknown {
			if _, _, err := f.lookup(name, ver); err != nil {
				return nil, err
			}
		}
	}
	sums := map[throughput.Key]*api.ModelStatistics{}
	workers := f.dir.Workers()
	f.ledger.fold(workers, time.Now())
	for _, w := range workers {
		for _, m := range w.Models {
			if (name != "" && m.Name != name) || (ver != "" && m.Version != ver) {
				continue
			}
			st, ok := workerStats(m)
			if !ok {
				continue
			}
			k := throughput.Key{Model: m.Name, Version: m.Version}
			if sums[k] == nil {
				sums[k] = &api.ModelStatistics{Name: m.Name, Version: m.Version, BatchStats: []api.BatchStatistics{}}
			}
			addStatistics(sums[k], &st.Statistics)
		}
	}
	resp := &api.ModelStatsResponse{ModelStats: make([]api.ModelStatistics, 0, len(sums))}
	for _, k := range sortedKeys(sums) {
		if d, ok := f.ledger.departed(k); ok {
			addStatistics(sums[k], &d.stats)
		}
		resp.ModelStats = append(resp.ModelStats, *sums[k])
	}
	return resp, nil
}

func addDuration(a *api.StatDuration, b api.StatDuration) {
	a.Count += b.Count
	a.Ns += b.Ns
}

// addStatistics adds b's counters to a.
func addStatistics(a, b *api.ModelStatistics) {
	a.LastInference = max(a.LastInference, b.LastInference)
	a.InferenceCount += b.InferenceCount
	a.ExecutionCount += b.ExecutionCount
	ai, bi := &a.InferenceStats, &b.InferenceStats
	addDuration(&ai.Success, bi.Success)
	addDuration(&ai.Fail, bi.Fail)
	addDuration(&ai.Queue, bi.Queue)
	addDuration(&ai.ComputeInput, bi.ComputeInput)
	addDuration(&ai.ComputeInfer, bi.ComputeInfer)
	addDuration(&ai.ComputeOutput, bi.ComputeOutput)
	addDuration(&ai.CacheHit, bi.CacheHit)
	addDuration(&ai.CacheMiss, bi.CacheMiss)
	for _, bs := range b.BatchStats {
		i := slices.IndexFunc(a.BatchStats, func(x api.BatchStatistics) bool { return x.BatchSize == bs.BatchSize })
		if i < 0 {
			a.BatchStats = append(a.BatchStats, api.BatchStatistics{BatchSize: bs.BatchSize})
			i = len(a.BatchStats) - 1
		}
		addDuration(&a.BatchStats[i].ComputeInput, bs.ComputeInput)
		addDuration(&a.BatchStats[i].ComputeInfer, bs.ComputeInfer)
		addDuration(&a.BatchStats[i].ComputeOutput, bs.ComputeOutput)
	}
	slices.SortFunc(a.BatchStats, func(x, y api.BatchStatistics) int { return cmp.Compare(x.BatchSize, y.BatchSize) })
	a.RejectedCount += b.RejectedCount
	a.CancelledCount += b.CancelledCount
	a.ExpiredCount += b.ExpiredCount
	a.FailedCount += b.FailedCount
	a.QueueLength += b.QueueLength
	a.BatchSizeLimit = max(a.BatchSizeLimit, b.BatchSizeLimit) // per worker: the largest
}

func addTotals(a *api.ThroughputTotals, b api.ThroughputTotals) {
	a.InferenceCount += b.InferenceCount
	a.ExecutionCount += b.ExecutionCount
	a.Success += b.Success
	a.Failure += b.Failure
	a.Rejected += b.Rejected
	a.Cancelled += b.Cancelled
	a.Expired += b.Expired
	a.Failed += b.Failed
}

// sortedKeys returns m's keys by name, then version (numerically).
func sortedKeys[V any](m map[throughput.Key]V) []throughput.Key {
	keys := make([]throughput.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b throughput.Key) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(len(a.Version), len(b.Version)), cmp.Compare(a.Version, b.Version))
	})
	return keys
}

// execRates are the executions per second of the three windows, for the
// items-weighted average batch size across workers.
type execRates [3]struct{ items, execs float64 }

func (r *execRates) add(w api.ThroughputWindows) {
	for i, x := range []api.ThroughputWindow{w.Last1s, w.Last10s, w.Last60s} {
		if x.AvgBatch > 0 {
			r[i].items += x.InferPerS
			r[i].execs += x.InferPerS / x.AvgBatch
		}
	}
}

func (r *execRates) apply(w *api.ThroughputWindows) {
	for i, x := range []*api.ThroughputWindow{&w.Last1s, &w.Last10s, &w.Last60s} {
		x.AvgBatch = 0
		if r[i].execs > 0 {
			x.AvgBatch = r[i].items / r[i].execs
		}
	}
}

// Throughput is GET /v1/stats on a front: per model version, the front's
// own end-to-end windows (requests it queued, latency including Redis),
// the workers' average batch, summed totals (with what departed workers
// served, see ledger) and executing batches, and as
// queue depth the requests no worker has read yet plus those waiting in
// the workers' batchers; then every live worker with its own rows.
func (f *Front) Throughput(ctx context.Context) (*api.ThroughputStats, error) {
	if err := f.dir.Healthy(); err != nil {
		return nil, api.Fail(api.KindUnavailable, "statistics: %v", err)
	}
	out := &api.ThroughputStats{Time: f.windows.End(), UptimeSeconds: time.Since(f.opt.Started).Seconds(),
		Models: []api.ModelThroughput{}, Workers: []api.WorkerThroughput{}}
	rows := map[throughput.Key]*api.ModelThroughput{}
	rates := map[throughput.Key]*execRates{}
	workers := f.dir.Workers()
	f.ledger.fold(workers, time.Now())
	for _, w := range workers {
		wt := api.WorkerThroughput{ID: w.Worker, Host: w.Host, Started: w.Started, Published: w.Published, Models: []api.ModelThroughput{}}
		for _, m := range w.Models {
			st, _ := workerStats(m)
			row := st.Throughput
			row.Name, row.Version, row.Ready = m.Name, m.Version, m.Ready
			wt.Models = append(wt.Models, row)
			k := throughput.Key{Model: m.Name, Version: m.Version}
			agg := rows[k]
			if agg == nil {
				agg = &api.ModelThroughput{Name: m.Name, Version: m.Version}
				rows[k], rates[k] = agg, &execRates{}
			}
			agg.Ready = agg.Ready || m.Ready
			agg.QueueDepth += row.QueueDepth
			agg.Executing += row.Executing
			addTotals(&agg.Totals, row.Totals)
			rates[k].add(row.Windows)
		}
		out.Workers = append(out.Workers, wt)
	}
	keys := sortedKeys(rows)
	if f.opt.Backlog != nil && len(keys) > 0 {
		streams := make([]string, len(keys))
		for i, k := range keys {
			streams[i] = redisq.StreamKey(k.Model, k.Version)
		}
		if waiting, err := f.opt.Backlog(ctx, streams...); err == nil {
			for i, k := range keys {
				rows[k].QueueDepth += int(waiting[i])
			}
		}
	}
	for _, k := range keys {
		row := rows[k]
		if d, ok := f.ledger.departed(k); ok {
			addTotals(&row.Totals, d.totals)
		}
		if w, ok := f.windows.Window(k.Model, k.Version); ok {
			row.Windows = w.Windows()
		}
		rates[k].apply(&row.Windows)
		out.Models = append(out.Models, *row)
	}
	return out, nil
}
