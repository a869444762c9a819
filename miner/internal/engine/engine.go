// Package engine keeps the served models: it loads the versions the
// repository folder selects, starts a batcher for each, and answers the
// protocol's questions about them (metadata, readiness, index, statistics)
// and its inference requests.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/placement"
	"github.com/taominer/taominer/models"
)

// Opener reads a model file and opens a session for it.
type Opener interface {
	Open(ctx context.Context, path string, cfg models.Config) (models.IO, models.Session, error)
}

// Options configure an Engine.
type Options struct {
	// Dir is the model repository folder.
	Dir string
	// DefaultMaxBatchSize applies to models with a batch axis and no
	// max_batch_size in their config.
	DefaultMaxBatchSize int
	// DefaultMaxQueueDelay applies when a config sets no
	// max_queue_delay_microseconds.
	DefaultMaxQueueDelay time.Duration
	// MaxQueueSize bounds each model version's queue.
	MaxQueueSize int
	// DrainTimeout bounds how long an unload waits for queued requests.
	DrainTimeout time.Duration
	// ModelControl is the model control mode: ControlPoll, ControlExplicit
	// or ControlNone. Poll and explicit (and "") accept Load and Unload;
	// none refuses them. Following the folder in poll mode is the watch
	// package's job, not the engine's.
	ModelControl string
	// Observer, if set, returns the batch.Observer of a model version as
	// it loads (metrics). It is called again for a reload of the version.
	Observer func(model, version string) batch.Observer
	// GPUs reads the GPUs and their free memory, for gpus: auto placement
	// (see the placement package); nil when the machine has none.
	GPUs kernels.GPUSource
	// MinFreeGPUMemory is the free memory in bytes a GPU needs for gpus:
	// auto to place an instance on it (placement.DefaultMinFree when 0);
	// a model's gpu_min_free_mib overrides it.
	MinFreeGPUMemory uint64
	// IntraOpThreads is the ONNX Runtime intra-op threads of a model whose
	// config sets none (1 when 0); batch size tuning measures a CPU model
	// that runs in one thread by that thread's CPU time.
	IntraOpThreads int
	Logger         *slog.Logger
}

// Model control modes, as Triton's --model-control-mode.
const (
	// ControlPoll follows the repository folder and allows the API.
	ControlPoll = "poll"
	// ControlExplicit loads at startup, then only through the API.
	ControlExplicit = "explicit"
	// ControlNone loads at startup and refuses the load and unload API.
	ControlNone = "none"
)

// Engine holds the loaded models. It is safe for concurrent use.
type Engine struct {
	opt    Options
	opener Opener
	placer *placement.Placer
	log    *slog.Logger

	// loadMu serialises loads, unloads and Close. It is held while a model
	// opens and warms up, never by inference, which takes mu for a lookup.
	loadMu sync.Mutex
	closed bool // Close ran; guarded by loadMu

	mu       sync.RWMutex
	models   map[string]*model
	failures map[string]uint64 // failed loads per model name
	// counters holds the statistics of every version loaded since the
	// engine started. Each copy of a version (a reload, a load after an
	// unload) counts on in the same counters, so they never go back.
	counters map[versionKey]*batch.Stats
	started  bool // the startup load has finished
}

// model is what the engine knows of one model name.
type model struct {
	ready map[int64]*version // serving versions
	// status holds the index row of each version the engine tried, and of
	// the model itself under version 0 when it failed as a whole.
	status map[int64]status
}

const reasonUnloaded = "unloaded"

type status struct {
	state, reason string
}

type versionKey struct{ name, version string }

// versionCounters returns the counters of a model version, new at its
// first load.
func (e *Engine) versionCounters(name, ver string) *batch.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := versionKey{name, ver}
	st := e.counters[k]
	if st == nil {
		st = batch.NewStats()
		e.counters[k] = st
	}
	return st
}

type version struct {
	spec    models.Spec
	pool    *pool // the instances
	batcher *batch.Batcher
}

// New returns an engine with no models loaded.
func New(opener Opener, opt Options) *Engine {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.DrainTimeout <= 0 {
		opt.DrainTimeout = 30 * time.Second
	}
	placer := placement.New(placement.Options{GPUs: opt.GPUs, MinFree: opt.MinFreeGPUMemory, Logger: opt.Logger})
	return &Engine{opt: opt, opener: opener, placer: placer, log: opt.Logger, models: map[string]*model{}, failures: map[string]uint64{},
		counters: map[versionKey]*batch.Stats{}}
}

// LoadAll loads every model of the repository. A model that fails is
// reported in the log and the index; it never fails the call. Only an
// unreadable repository folder is an error.
func (e *Engine) LoadAll(ctx context.Context) error {
	entries, err := models.Scan(e.opt.Dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		e.log.Warn(emptyFolderMessage(e.opt.Dir, e.opt.ModelControl), "dir", e.opt.Dir)
	}
	for i := range entries {
		if err := e.load(ctx, &entries[i]); err != nil {
			e.log.Error("model failed to load", "model", entries[i].Name, "err", err)
		}
	}
	e.mu.Lock()
	e.started = true
	e.mu.Unlock()
	return nil
}

// emptyFolderMessage is the startup warning for a model folder with no
// models: what to put there and how it gets loaded in mode.
func emptyFolderMessage(dir, mode string) string {
	then := "then load it with POST /v2/repository/models/NAME/load (--model-control explicit)"
	switch mode {
	case ControlPoll:
		then = "the miner loads it when it appears (--model-control poll)"
	case ControlNone:
		then = "then restart the miner (--model-control none loads models only at startup)"
	}
	return fmt.Sprintf("no models in the model folder %s: put NAME.onnx there (optional config NAME.yaml) or NAME/1/%s (optional config NAME/config.yaml); "+
		"%s; until a model is ready, readiness answers 503", dir, models.ModelFile, then)
}

func (e *Engine) model(name string) *model {
	m, ok := e.models[name]
	if !ok {
		m = &model{ready: map[int64]*version{}, status: map[int64]status{}}
		e.models[name] = m
	}
	return m
}

func (e *Engine) setStatus(name string, v int64, s status) {
	e.mu.Lock()
	e.model(name).status[v] = s
	e.mu.Unlock()
}

func (e *Engine) serving(name string, v int64) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	m, ok := e.models[name]
	return ok && m.ready[v] != nil
}

// open loads, validates and warms up one version: each of its instances,
// placed by the engine's placer, and one batcher feeding them all.
func (e *Engine) open(ctx context.Context, entry *models.Entry, vf models.VersionFile) (*version, error) {
	var spec *models.Spec
	p := &pool{}
	openOne := func(ctx context.Context, _ int, t placement.Target) error {
		cfg := entry.Config
		cfg.ExecutionProvider, cfg.DeviceID = t.Provider, t.DeviceID
		io, sess, err := e.opener.Open(ctx, vf.Path, cfg)
		if err != nil {
			return err
		}
		if spec == nil {
			s, err := e.resolve(entry, vf, io)
			if err != nil {
				sess.Close()
				return err
			}
			spec = &s
		}
		if err := warmup(ctx, sess, spec); err != nil {
			sess.Close()
			return fmt.Errorf("warm-up run: %w", err)
		}
		device := t.String()
		if ps, ok := sess.(interface{ Provider() string }); ok && ps.Provider() == "cpu" {
			device = "cpu" // a GPU provider that fell back (fallback: cpu)
		}
		p.instances = append(p.instances, &instance{session: sess, device: device})
		return nil
	}
	if _, err := e.placer.Place(ctx, entry.Name, entry.Config, openOne); err != nil {
		p.close()
		return nil, err
	}
	maxBatch := spec.MaxBatchSize
	opt := batch.Options{
		MaxBatchSize:  maxBatch,
		MaxQueueDelay: e.opt.DefaultMaxQueueDelay,
		MaxQueueSize:  e.opt.MaxQueueSize,
		Logger:        e.log.With("model", entry.Name, "version", spec.Version),
		Instances:     len(p.instances),
		Stats:         e.versionCounters(entry.Name, spec.Version),
	}
	if e.opt.Observer != nil {
		opt.Observer = e.opt.Observer(entry.Name, spec.Version)
	}
	if e.singleThreadCPU(entry, p) {
		opt.SizeClock = batch.ThreadCPUClock
	}
	if db := entry.Config.DynamicBatching; db != nil {
		opt.PreferredBatchSizes = db.PreferredBatchSize
		opt.TuneSize = db.SizeTuning
		if db.MaxQueueDelayMicroseconds != nil {
			opt.MaxQueueDelay = time.Duration(*db.MaxQueueDelayMicroseconds) * time.Microsecond
		}
		if q := db.DefaultQueuePolicy; q != nil && q.MaxQueueSize > 0 {
			opt.MaxQueueSize = int(q.MaxQueueSize)
		}
	}
	return &version{spec: *spec, pool: p, batcher: batch.New(p, opt)}, nil
}

// singleThreadCPU reports whether every instance of a version runs on the
// CPU with one intra-op thread: the batch worker's own thread then does the
// model's work, and its CPU time measures it (batch.ThreadCPUClock).
func (e *Engine) singleThreadCPU(entry *models.Entry, p *pool) bool {
	threads := entry.Config.IntraOpThreads
	if threads == 0 {
		threads = max(e.opt.IntraOpThreads, 1)
	}
	if threads != 1 {
		return false
	}
	for _, d := range p.devices() {
		if d != "cpu" {
			return false
		}
	}
	return true
}

// resolve checks the IO the first instance read against the config and
// returns the version's spec.
func (e *Engine) resolve(entry *models.Entry, vf models.VersionFile, io models.IO) (models.Spec, error) {
	maxBatch, err := entry.Config.Apply(io, e.opt.DefaultMaxBatchSize)
	if err == nil {
		io, err = entry.Config.Narrow(io, maxBatch)
	}
	if err != nil {
		return models.Spec{}, err
	}
	return models.Spec{Name: entry.Name, Version: strconv.FormatInt(vf.Version, 10), IO: io,
		MaxBatchSize: maxBatch, Config: entry.Config, Path: vf.Path}, nil
}

// Ready reports whether the startup load has finished and at least one
// model version is serving.
func (e *Engine) Ready() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.started {
		return false
	}
	for _, m := range e.models {
		if len(m.ready) > 0 {
			return true
		}
	}
	return false
}

// lookup finds the version to serve: the given one, or the newest ready.
func (e *Engine) lookup(name, ver string) (*version, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	m, ok := e.models[name]
	if !ok {
		return nil, api.NotFound("unknown model: '%s'", name)
	}
	if len(m.ready) == 0 && m.unloaded() {
		return nil, api.NotFound("unknown model: '%s' (unloaded)", name)
	}
	if ver == "" {
		var best *version
		var bestN int64
		for n, v := range m.ready {
			if best == nil || n > bestN {
				best, bestN = v, n
			}
		}
		if best == nil {
			return nil, api.Fail(api.KindUnavailable, "model '%s' is not ready: %s", name, m.reason())
		}
		return best, nil
	}
	n, err := strconv.ParseInt(ver, 10, 64)
	if err != nil || n < 1 {
		return nil, api.NotFound("unknown version '%s' of model '%s' (versions are positive integers)", ver, name)
	}
	if v := m.ready[n]; v != nil {
		return v, nil
	}
	if s, ok := m.status[n]; ok {
		return nil, api.Fail(api.KindUnavailable, "model '%s' version %d is not ready: %s", name, n, orState(s))
	}
	return nil, api.NotFound("unknown version '%s' of model '%s'", ver, name)
}

func orState(s status) string {
	if s.reason != "" {
		return s.reason
	}
	return s.state
}

// unloaded reports whether every version was explicitly unloaded.
func (m *model) unloaded() bool {
	for _, s := range m.status {
		if s.reason != reasonUnloaded {
			return false
		}
	}
	return len(m.status) > 0
}

// reason summarises why a model has no ready version.
func (m *model) reason() string {
	keys := slices.Sorted(maps.Keys(m.status))
	for i := len(keys) - 1; i >= 0; i-- {
		if s := m.status[keys[i]]; s.reason != "" || s.state != api.StateReady {
			return orState(s)
		}
	}
	return "no version loaded"
}
