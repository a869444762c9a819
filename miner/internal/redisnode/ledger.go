package redisnode

import (
	"sync"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
)

// ledger keeps the cluster's totals monotonic. The workers announce their
// counters since they started; a worker that dies (or restarts, or unloads
// a version) takes its figures out of the live sum. The ledger remembers
// each worker's last announced figures per version and, once the worker no
// longer announces them, keeps them as departed, which the front's
// statistics add to the live sum. A departed worker that announces again
// with the same start (a late heartbeat) is live again, not counted twice;
// after settle, departed figures are merged into one sum per version.
//
// The ledger learns the figures when the front reads the directory (its
// statistics, and at most once a second on the request path), so what a
// worker served after the last of those reads before it died is lost; the
// totals still never go down.
type ledger struct {
	mu     sync.Mutex
	next   time.Time                      // the request path's next fold
	last   map[ledgerKey]ledgerEntry      // live workers' figures
	gone   map[ledgerKey]ledgerEntry      // departed within settle
	merged map[throughput.Key]*departures // departed before settle
}

// settle is how long a departed worker's figures stay apart, in case it
// announces again: the directory's away grace.
const settle = redisq.DefaultAwayGrace

type ledgerKey struct{ worker, model, version string }

type ledgerEntry struct {
	started time.Time // the worker's start: a restart under the same id departs the old figures
	left    time.Time // when it departed (gone only)
	stats   announcedStats
}

// departures is what departed workers served of one version.
type departures struct {
	stats  api.ModelStatistics
	totals api.ThroughputTotals
}

func (d *departures) add(st announcedStats) {
	s := st.Statistics
	s.QueueLength = 0 // a gauge: nothing waits on a departed worker
	addStatistics(&d.stats, &s)
	addTotals(&d.totals, st.Throughput.Totals)
}

// foldEvery folds the workers' announcements at most once per period
// (for the request path, which must stay cheap).
func (l *ledger) foldEvery(workers func() []redisq.Announcement, period time.Duration) {
	now := time.Now()
	l.mu.Lock()
	due := now.After(l.next)
	if due {
		l.next = now.Add(period)
	}
	l.mu.Unlock()
	if due {
		l.fold(workers(), now)
	}
}

// fold records the live workers' figures at now and moves those of
// workers (or versions) no longer announced to gone.
func (l *ledger) fold(workers []redisq.Announcement, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.gone, l.merged = map[ledgerKey]ledgerEntry{}, map[ledgerKey]ledgerEntry{}, map[throughput.Key]*departures{}
	}
	live := make(map[ledgerKey]bool, len(l.last))
	for _, w := range workers {
		for _, m := range w.Models {
			st, ok := workerStats(m)
			if !ok {
				continue
			}
			k := ledgerKey{w.Worker, m.Name, m.Version}
			if e, ok := l.last[k]; ok && !e.started.Equal(w.Started) {
				e.left = now
				l.depart(k, e) // restarted under the same id: its counters began again
			}
			if e, ok := l.gone[k]; ok && e.started.Equal(w.Started) {
				delete(l.gone, k) // back: its announcement carries what it served
			}
			l.last[k] = ledgerEntry{started: w.Started, stats: st}
			live[k] = true
		}
	}
	for k, e := range l.last {
		if !live[k] {
			e.left = now
			l.depart(k, e)
			delete(l.last, k)
		}
	}
	for k, e := range l.gone {
		if now.Sub(e.left) >= settle {
			l.merge(k, e)
			delete(l.gone, k)
		}
	}
}

// depart keeps a departed worker's last figures of one version apart; a
// second departure under the same key (a restart) merges the first. l.mu
// is held.
func (l *ledger) depart(k ledgerKey, e ledgerEntry) {
	if old, ok := l.gone[k]; ok {
		l.merge(k, old)
	}
	l.gone[k] = e
}

func (l *ledger) merge(k ledgerKey, e ledgerEntry) {
	key := throughput.Key{Model: k.model, Version: k.version}
	d := l.merged[key]
	if d == nil {
		d = &departures{stats: api.ModelStatistics{BatchStats: []api.BatchStatistics{}}}
		l.merged[key] = d
	}
	d.add(e.stats)
}

// departed returns what departed workers served of a version.
func (l *ledger) departed(k throughput.Key) (departures, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := departures{stats: api.ModelStatistics{BatchStats: []api.BatchStatistics{}}}
	found := false
	if d := l.merged[k]; d != nil {
		out.add(announcedStats{Statistics: d.stats, Throughput: api.ModelThroughput{Totals: d.totals}})
		found = true
	}
	for lk, e := range l.gone {
		if lk.model == k.Model && lk.version == k.Version {
			out.add(e.stats)
			found = true
		}
	}
	return out, found
}
