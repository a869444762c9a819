package redisnode

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
)

// announce is a worker's announcement of m/1 having served success
// requests.
func announce(t *testing.T, worker string, started time.Time, success uint64) redisq.Announcement {
	t.Helper()
	st := announcedStats{
		Statistics: api.ModelStatistics{Name: "m", Version: "1", InferenceCount: success, QueueLength: 3,
			InferenceStats: api.InferStatistics{Success: api.StatDuration{Count: success}}},
		Throughput: api.ModelThroughput{Totals: api.ThroughputTotals{Success: success, InferenceCount: success}},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return redisq.Announcement{Worker: worker, Started: started, Models: []redisq.AnnouncedModel{{Name: "m", Version: "1", Ready: true, Stats: b}}}
}

// TestLedgerKeepsDeparted: what a worker served stays in the departed sum
// once it stops announcing; a late heartbeat does not count it twice; a
// restart under the same id keeps the old life's figures.
func TestLedgerKeepsDeparted(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	key := throughput.Key{Model: "m", Version: "1"}
	var l ledger
	steps := []struct {
		name    string
		at      time.Duration
		workers []redisq.Announcement
		want    uint64 // departed success
	}{
		{"both live", 0, []redisq.Announcement{announce(t, "a", t0, 5), announce(t, "b", t0, 3)}, 0},
		{"a dies", time.Second, []redisq.Announcement{announce(t, "b", t0, 4)}, 5},
		{"a was only late", 2 * time.Second, []redisq.Announcement{announce(t, "a", t0, 6), announce(t, "b", t0, 4)}, 0},
		{"a restarts under its id", 3 * time.Second, []redisq.Announcement{announce(t, "a", t0.Add(time.Hour), 1), announce(t, "b", t0, 4)}, 6},
		{"b dies", 4 * time.Second, []redisq.Announcement{announce(t, "a", t0.Add(time.Hour), 2)}, 10},
		{"settled", 4*time.Second + settle, []redisq.Announcement{announce(t, "a", t0.Add(time.Hour), 2)}, 10},
		{"a dies too", 5*time.Second + settle, nil, 12},
	}
	for _, s := range steps {
		l.fold(s.workers, t0.Add(s.at))
		d, _ := l.departed(key)
		if d.stats.InferenceStats.Success.Count != s.want || d.totals.Success != s.want || d.stats.InferenceCount != s.want {
			t.Errorf("%s: departed success %d (totals %d, inference_count %d), want %d",
				s.name, d.stats.InferenceStats.Success.Count, d.totals.Success, d.stats.InferenceCount, s.want)
		}
		if d.stats.QueueLength != 0 {
			t.Errorf("%s: departed queue length %d, want 0", s.name, d.stats.QueueLength)
		}
	}
}
