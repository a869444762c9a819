package redisq

// Worker announcements: each worker's Announcer keeps a short-lived key
// WorkerKey(id) holding its JSON encoded Announcement (SET … PX ttl,
// renewed every Interval) and indexes it in the sorted set WorkersKey with
// its expiry time (Unix ms) as score, so a front's Directory lists the
// workers without SCAN. The key's TTL is the truth: a worker that stops
// heartbeating disappears when its key expires; the index score only lets
// readers drop stale members (ZREMRANGEBYSCORE) and skip them.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Announcement defaults.
const (
	// DefaultAnnounceTTL is how long an announcement outlives its last
	// heartbeat.
	DefaultAnnounceTTL = 5 * time.Second
	// DefaultDirectoryRefresh is how often a Directory reloads the
	// announcements.
	DefaultDirectoryRefresh = time.Second

	// DefaultAwayGrace is how long a Directory reports a model no live
	// worker announces any more as away (a front answers 503: workers are
	// restarting, or a restarted Redis has not had their next heartbeat)
	// before it becomes unknown (404).
	DefaultAwayGrace = time.Minute

	// WorkersKey is the sorted set indexing the announced workers, scored
	// by the Unix ms time their announcement expires.
	WorkersKey = keyPrefix + "workers"

	// indexGrace is how long past its score an index member is kept and
	// read, so clock skew between a worker and a front cannot hide a live
	// worker: the per-worker key's TTL (Redis' clock) decides liveness.
	indexGrace = 10 * time.Second
	// cleanupTimeout bounds the key deletion when an Announcer stops.
	cleanupTimeout = time.Second
	// A Directory refresh may take its period, within these bounds: an
	// outage (go-redis retrying dials for over a second) is reported
	// within about one period plus half a second.
	minRefreshTimeout = 500 * time.Millisecond
	maxRefreshTimeout = 2 * time.Second
)

// WorkerKey is the key holding the announcement of the worker with this id.
func WorkerKey(id string) string { return keyPrefix + "worker:" + id }

// Announcement is what a worker publishes about itself.
type Announcement struct {
	Worker  string    `json:"worker"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
	// Published is when this copy was written (the worker's clock).
	Published time.Time        `json:"published"`
	Models    []AnnouncedModel `json:"models"`
}

// AnnouncedModel is one model version a worker serves.
type AnnouncedModel struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Ready   bool   `json:"ready"`
	// Metadata is the KServe model metadata JSON the front serves for
	// GET /v2/models/{name}[/versions/{version}]; opaque here. It must be
	// valid JSON or empty.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Stats is the worker's statistics of the version at Published, from
	// AnnouncerOptions.Stats; opaque here, valid JSON or empty.
	Stats json.RawMessage `json:"stats,omitempty"`
}

func (a Announcement) clone() Announcement {
	a.Models = slices.Clone(a.Models)
	for i := range a.Models {
		a.Models[i].Metadata = bytes.Clone(a.Models[i].Metadata)
		a.Models[i].Stats = bytes.Clone(a.Models[i].Stats)
	}
	return a
}

// AnnouncerOptions configure an Announcer.
type AnnouncerOptions struct {
	// Worker is the worker's id, unique among live workers (default
	// "<hostname>-<pid>").
	Worker string
	// TTL is how long the announcement outlives the last heartbeat
	// (default DefaultAnnounceTTL).
	TTL time.Duration
	// Interval is the heartbeat period (default TTL/3; at most TTL/2).
	Interval time.Duration
	// Stats, when set, is called for every announced version at each
	// publish; its JSON becomes the version's Stats.
	Stats  func(name, version string) json.RawMessage
	Logger *slog.Logger
}

// Announcer publishes a worker's Announcement (the worker side).
type Announcer struct {
	rdb  *redis.Client
	opt  AnnouncerOptions
	log  *slog.Logger
	key  string
	kick chan struct{} // capacity 1: a publish is wanted now

	mu  sync.Mutex
	ann Announcement // guarded by mu
}

// NewAnnouncer returns an announcer for the worker opt.Worker announcing
// no models; Set gives it the models and Run publishes them. rdb belongs to
// the caller.
func NewAnnouncer(rdb *redis.Client, opt AnnouncerOptions) *Announcer {
	host, _ := os.Hostname()
	if opt.Worker == "" {
		opt.Worker = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultAnnounceTTL
	}
	if opt.Interval <= 0 {
		opt.Interval = opt.TTL / 3
	}
	opt.Interval = max(min(opt.Interval, opt.TTL/2), time.Millisecond)
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Announcer{
		rdb:  rdb,
		opt:  opt,
		log:  opt.Logger,
		key:  WorkerKey(opt.Worker),
		kick: make(chan struct{}, 1),
		ann: Announcement{
			Worker:  opt.Worker,
			Host:    host,
			Started: time.Now().UTC().Truncate(time.Millisecond),
			Models:  []AnnouncedModel{},
		},
	}
}

// Worker returns the announcer's worker id.
func (a *Announcer) Worker() string { return a.opt.Worker }

// Set replaces the announced models (the slice and metadata are copied) and
// asks a running Run to publish them now. Safe for concurrent use.
func (a *Announcer) Set(models []AnnouncedModel) {
	ann := Announcement{Models: make([]AnnouncedModel, len(models))}
	copy(ann.Models, models)
	ann = ann.clone()
	a.mu.Lock()
	a.ann.Models = ann.Models
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Announcement returns a copy of what the announcer publishes.
func (a *Announcer) Announcement() Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ann.clone()
}

// Run publishes the announcement now, after every Set and every Interval
// until ctx ends, then deletes it (best effort, within about a second) so
// fronts stop counting this worker at once. Redis errors are logged and
// retried on the next tick. Run returns when ctx ends: nil, or the error
// that kept it from deleting the announcement (which then expires after
// its TTL).
func (a *Announcer) Run(ctx context.Context) error {
	t := time.NewTicker(a.opt.Interval)
	defer t.Stop()
	for {
		if err := a.publish(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("redisq: announce failed; retrying", "worker", a.opt.Worker, "err", err)
		}
		select {
		case <-ctx.Done():
			return a.withdraw(ctx)
		case <-t.C:
		case <-a.kick:
			t.Reset(a.opt.Interval)
		}
	}
}

// publish writes the announcement with its TTL and indexes it.
func (a *Announcer) publish(ctx context.Context) error {
	a.mu.Lock()
	ann := a.ann.clone()
	a.mu.Unlock()
	ann.Published = time.Now().UTC().Truncate(time.Millisecond)
	if a.opt.Stats != nil {
		for i := range ann.Models {
			ann.Models[i].Stats = a.opt.Stats(ann.Models[i].Name, ann.Models[i].Version)
		}
	}
	b, err := json.Marshal(&ann)
	if err != nil {
		return fmt.Errorf("encode announcement: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opt.TTL)
	defer cancel()
	expires := time.Now().Add(a.opt.TTL).UnixMilli()
	_, err = a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, a.key, b, a.opt.TTL)
		p.ZAdd(ctx, WorkersKey, redis.Z{Score: float64(expires), Member: a.opt.Worker})
		return nil
	})
	if err != nil {
		return unavailable("announce "+a.opt.Worker, err)
	}
	return nil
}

// withdraw deletes the announcement once ctx (Run's) has ended.
func (a *Announcer) withdraw(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, a.key)
		p.ZRem(ctx, WorkersKey, a.opt.Worker)
		return nil
	})
	if err != nil {
		err = unavailable("withdraw "+a.opt.Worker, err)
		a.log.Warn("redisq: could not withdraw announcement; it expires after its TTL",
			"worker", a.opt.Worker, "ttl", a.opt.TTL, "err", err)
		return err
	}
	return nil
}

// ModelState is what the live workers say about a model version.
type ModelState int

// Model states.
const (
	// ModelUnknown: no live worker announces it (a front answers 404).
	ModelUnknown ModelState = iota
	// ModelNotReady: announced, but no worker has it ready (503).
	ModelNotReady
	// ModelReady: at least one worker has it ready.
	ModelReady
	// ModelAway: no live worker announces it, but one did within the
	// directory's AwayGrace (503: it is expected back).
	ModelAway
)

func (s ModelState) String() string {
	switch s {
	case ModelUnknown:
		return "unknown"
	case ModelNotReady:
		return "not ready"
	case ModelReady:
		return "ready"
	case ModelAway:
		return "away"
	}
	return "ModelState(" + strconv.Itoa(int(s)) + ")"
}

// ModelStatus answers Directory.Model.
type ModelStatus struct {
	State ModelState
	// Version is the version the answer is about: the one asked for, or
	// for "" the one chosen (empty when State is ModelUnknown).
	Version string
	// Metadata is the announced metadata of a ready worker (the first by
	// worker id) when State is ModelReady; shared, do not modify.
	Metadata json.RawMessage
	// Ready and Workers count the live workers that have the version ready
	// and that announce it.
	Ready, Workers int
	// Stale is set when the last refresh failed and the answer comes from
	// an older snapshot (Healthy returns the error).
	Stale bool
}

// DirectoryOptions configure a Directory.
type DirectoryOptions struct {
	// Refresh is the reload period (default DefaultDirectoryRefresh).
	Refresh time.Duration
	// AwayGrace is how long a model stays away (ModelAway) after the
	// last announcement of it (default DefaultAwayGrace; negative: none).
	AwayGrace time.Duration
	Logger    *slog.Logger
}

// Directory keeps a local snapshot of the live workers' announcements (the
// front side). Its methods are safe for concurrent use.
type Directory struct {
	rdb  *redis.Client
	opt  DirectoryOptions
	log  *slog.Logger
	snap atomic.Pointer[snapshot]
}

// snapshot is one refresh's view; immutable once stored.
type snapshot struct {
	workers []Announcement                 // sorted by Worker
	models  map[string]map[string]*verInfo // name → version → info
	err     error                          // the last refresh's error; workers then from an older one
	// seen is when each model ("name") and version ("name\x00version")
	// was last announced, kept for AwayGrace.
	seen map[string]time.Time
}

type verInfo struct {
	ready, workers int
	metadata       json.RawMessage // of the first ready worker by id
}

// errNotRefreshed is Healthy's cause before the first refresh.
var errNotRefreshed = errors.New("worker directory not loaded yet")

// NewDirectory returns a directory with an empty snapshot; Run (or
// Refresh) loads it. rdb belongs to the caller.
func NewDirectory(rdb *redis.Client, opt DirectoryOptions) *Directory {
	if opt.Refresh <= 0 {
		opt.Refresh = DefaultDirectoryRefresh
	}
	if opt.AwayGrace == 0 {
		opt.AwayGrace = DefaultAwayGrace
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Directory{rdb: rdb, opt: opt, log: opt.Logger}
	d.snap.Store(&snapshot{err: fmt.Errorf("%w: %w", ErrUnavailable, errNotRefreshed)})
	return d
}

// Run refreshes the snapshot now and every Refresh until ctx ends, then
// returns nil. Failed refreshes keep the previous snapshot, marked stale.
func (d *Directory) Run(ctx context.Context) error {
	t := time.NewTicker(d.opt.Refresh)
	defer t.Stop()
	for {
		_ = d.Refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh reloads the snapshot once, within the Refresh period (at least
// half a second, at most two): it drops index members expired for
// long, reads the live ids and MGETs their announcements (missing keys have
// expired). On error (wrapping ErrUnavailable unless ctx ended) the
// previous snapshot is kept and marked stale.
func (d *Directory) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(max(d.opt.Refresh, minRefreshTimeout), maxRefreshTimeout))
	defer cancel()
	anns, err := d.load(ctx)
	old := d.snap.Load()
	if err != nil {
		if old.err == nil || errors.Is(old.err, errNotRefreshed) {
			d.log.Warn("redisq: worker directory refresh failed; serving the last snapshot", "err", err)
		}
		s := *old
		s.err = err
		d.snap.Store(&s)
		return err
	}
	if old.err != nil && !errors.Is(old.err, errNotRefreshed) {
		d.log.Info("redisq: worker directory refreshed again")
	}
	d.snap.Store(newSnapshot(anns, old.seen, time.Now(), d.opt.AwayGrace))
	return nil
}

func (d *Directory) load(ctx context.Context) ([]Announcement, error) {
	now := time.Now()
	lo := strconv.FormatInt(now.Add(-indexGrace).UnixMilli(), 10)
	var ids *redis.StringSliceCmd
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, WorkersKey, "-inf", "("+lo)
		ids = p.ZRangeByScore(ctx, WorkersKey, &redis.ZRangeBy{Min: lo, Max: "+inf"})
		return nil
	})
	if err != nil {
		return nil, d.fail(ctx, "list workers", err)
	}
	if len(ids.Val()) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids.Val()))
	for i, id := range ids.Val() {
		keys[i] = WorkerKey(id)
	}
	vals, err := d.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, d.fail(ctx, "read workers", err)
	}
	anns := make([]Announcement, 0, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok { // expired (or deleted) since the ZRANGE
			continue
		}
		var a Announcement
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			d.log.Warn("redisq: skipping malformed worker announcement", "key", keys[i], "err", err)
			continue
		}
		if a.Worker == "" {
			a.Worker = ids.Val()[i]
		}
		anns = append(anns, a)
	}
	return anns, nil
}

func (d *Directory) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	return unavailable(op, err)
}

// newSnapshot indexes anns; seen carries the previous snapshot's last
// announcements forward for grace.
func newSnapshot(anns []Announcement, seen map[string]time.Time, now time.Time, grace time.Duration) *snapshot {
	slices.SortFunc(anns, func(a, b Announcement) int { return cmp.Compare(a.Worker, b.Worker) })
	s := &snapshot{workers: anns, models: make(map[string]map[string]*verInfo), seen: make(map[string]time.Time)}
	for k, t := range seen {
		if now.Sub(t) < grace {
			s.seen[k] = t
		}
	}
	for _, a := range anns {
		for _, m := range a.Models {
			if grace > 0 {
				s.seen[m.Name], s.seen[m.Name+"\x00"+m.Version] = now, now
			}
			vers := s.models[m.Name]
			if vers == nil {
				vers = make(map[string]*verInfo)
				s.models[m.Name] = vers
			}
			vi := vers[m.Version]
			if vi == nil {
				vi = &verInfo{}
				vers[m.Version] = vi
			}
			vi.workers++
			if m.Ready {
				vi.ready++
				if vi.metadata == nil {
					vi.metadata = m.Metadata
				}
			}
		}
	}
	return s
}

// Workers returns a copy of the live workers' announcements sorted by
// worker id (from the last good refresh when Healthy fails).
func (d *Directory) Workers() []Announcement {
	s := d.snap.Load()
	out := make([]Announcement, len(s.workers))
	for i, a := range s.workers {
		out[i] = a.clone()
	}
	return out
}

// Healthy returns nil when the last refresh succeeded, else its error
// (wrapping ErrUnavailable; also before the first refresh). A front
// answers 503 then.
func (d *Directory) Healthy() error { return d.snap.Load().err }

// Model reports on a model version: version "" selects the newest
// (numerically; versions that are not positive integers only when no
// version is) version some worker has ready, or, when none is ready, the
// newest announced one. Other versions must match exactly.
func (d *Directory) Model(name, version string) ModelStatus {
	s := d.snap.Load()
	st := ModelStatus{Stale: s.err != nil && !errors.Is(s.err, errNotRefreshed)}
	vers := s.models[name]
	if version == "" {
		version = newestVersion(vers, true)
		if version == "" {
			version = newestVersion(vers, false)
		}
	}
	vi := vers[version]
	if vi == nil {
		key := name
		if version != "" {
			key += "\x00" + version
		}
		if t, ok := s.seen[key]; ok && time.Since(t) < d.opt.AwayGrace {
			st.State, st.Version = ModelAway, version
		}
		return st
	}
	st.Version, st.Ready, st.Workers = version, vi.ready, vi.workers
	if vi.ready > 0 {
		st.State, st.Metadata = ModelReady, vi.metadata
	} else {
		st.State = ModelNotReady
	}
	return st
}

// newestVersion returns the greatest version in vers (ready ones only if
// ready): positive integers by value above other strings, those by byte
// order; "" when there is none.
func newestVersion(vers map[string]*verInfo, ready bool) string {
	best, bestN, found := "", int64(0), false
	for v, vi := range vers {
		if ready && vi.ready == 0 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			n = 0
		}
		if !found || n > bestN || (n == bestN && n == 0 && v > best) {
			best, bestN, found = v, n, true
		}
	}
	return best
}
