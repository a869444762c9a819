package main

import (
	"context"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/gpus"
	"github.com/taominer/taominer/miner/internal/throughput"
)

// statsSource is the engine's statistics plus the rolling throughput
// windows that GET /v1/stats serves (server.ThroughputSource).
type statsSource struct {
	*engine.Engine
	windows *throughput.Tracker
	started time.Time
	gpus    *gpus.Poller // nil: no GPU rows
}

// Throughput lists every model version the engine knows of, in index order
// (name, then version), with its windows, its live queue and executing
// counts, and its totals from the statistics extension (zero for a version
// that is not serving).
func (s statsSource) Throughput(ctx context.Context) (*api.ThroughputStats, error) {
	end := s.windows.End()
	rows, err := s.Index(ctx, false)
	if err != nil {
		return nil, err
	}
	all, err := s.Stats("", "")
	if err != nil {
		return nil, err
	}
	stats := make(map[throughput.Key]*api.ModelStatistics, len(all.ModelStats))
	for i := range all.ModelStats {
		ms := &all.ModelStats[i]
		stats[throughput.Key{Model: ms.Name, Version: ms.Version}] = ms
	}
	out := &api.ThroughputStats{Time: end, UptimeSeconds: time.Since(s.started).Seconds(), Models: []api.ModelThroughput{}}
	if s.gpus != nil {
		out.GPUs = s.gpus.Stats()
	}
	for _, r := range rows {
		if r.Version == "" {
			continue // a model that failed as a whole has no version
		}
		m := api.ModelThroughput{Name: r.Name, Version: r.Version, Ready: r.State == api.StateReady}
		if w, ok := s.windows.Window(r.Name, r.Version); ok {
			m.Windows = w.Windows()
			m.Executing = w.Executing()
		}
		if ms := stats[throughput.Key{Model: r.Name, Version: r.Version}]; ms != nil {
			m.QueueDepth = ms.QueueLength
			m.Totals = totals(ms)
		}
		out.Models = append(out.Models, m)
	}
	return out, nil
}

// model returns one version's statistics and /v1/stats row, for a Redis
// worker's announcement; ok is false when the version is not serving.
func (s statsSource) model(name, version string) (api.ModelStatistics, api.ModelThroughput, bool) {
	all, err := s.Stats(name, version)
	if err != nil || len(all.ModelStats) != 1 {
		return api.ModelStatistics{}, api.ModelThroughput{}, false
	}
	ms := all.ModelStats[0]
	row := api.ModelThroughput{Name: name, Version: version, Ready: true, QueueDepth: ms.QueueLength, Totals: totals(&ms)}
	if w, ok := s.windows.Window(name, version); ok {
		row.Windows = w.Windows()
		row.Executing = w.Executing()
	}
	return ms, row, true
}

func totals(ms *api.ModelStatistics) api.ThroughputTotals {
	return api.ThroughputTotals{
		InferenceCount: ms.InferenceCount, ExecutionCount: ms.ExecutionCount,
		Success: ms.InferenceStats.Success.Count, Failure: ms.InferenceStats.Fail.Count,
		Rejected: ms.RejectedCount, Cancelled: ms.CancelledCount, Expired: ms.ExpiredCount, Failed: ms.FailedCount,
	}
}
