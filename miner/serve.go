package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/chainnode"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/miner/internal/metrics"
	"github.com/taominer/taominer/miner/internal/redisnode"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
	"github.com/taominer/taominer/miner/internal/watch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/onnx"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// nodeOptions are what tests and benchmarks vary beyond the config.
type nodeOptions struct {
	// noObservers leaves the batchers without observers (no histograms, no
	// /v1/stats windows), to measure what they cost.
	noObservers bool
	// opener, when set, opens the models instead of ONNX Runtime's opener
	// (tests: a model that takes long to open).
	opener engine.Opener
	// chain, when set, replaces chainnode.Defaults() (tests: fast polls,
	// no public-IP detection).
	chain *chainnode.Options
}

// newLogger builds the process logger from the config.
func newLogger(cfg config.Serve, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// onnxOpener opens models with ONNX Runtime, on the execution provider
// and device their config asks for.
type onnxOpener struct {
	threads int
	log     *slog.Logger // the provider fallback warning
}

func (o onnxOpener) Open(_ context.Context, path string, cfg models.Config) (models.IO, models.Session, error) {
	opts := onnx.Options{IntraOpThreads: o.threads, ExecutionProvider: cfg.ExecutionProvider,
		DeviceID: cfg.DeviceID, Fallback: cfg.Fallback, Logger: o.log}
	if cfg.IntraOpThreads > 0 {
		opts.IntraOpThreads = cfg.IntraOpThreads
	}
	io, err := onnx.ReadIO(path, opts)
	if err != nil {
		return models.IO{}, nil, err
	}
	s, err := onnx.Open(path, io, opts)
	if err != nil {
		return models.IO{}, nil, err
	}
	return io, s, nil
}

// node is a running miner: its engine and its ports.
type node struct {
	log     *slog.Logger
	engine  *engine.Engine // nil on an api-role node
	watcher *watch.Watcher // nil unless --model-control=poll
	http    *livePort      // KServe, health, metrics (ports.go)
	reg     *prometheus.Registry
	cfg     config.Serve
	phase   atomic.Pointer[string] // what the start is doing, for the starting answers
	// loops run until the node's context ends (the Redis worker and
	// directory); closers run after them and the engine, in order.
	loops   []func(context.Context) error
	closers []func()
	axon    *axonNode // nil unless --wallet is set (axon.go)
	guards  *guards   // the public ports' limits (guards.go)
	grpc    *grpcPort // nil unless --grpc-addr is served (grpc.go)
	// chainOpts are the chain node's timings and IP detection (chain.go).
	chainOpts chainnode.Options
}

// newNode loads the runtime, binds the ports, then loads the models and
// attaches the chain; with --redis it adds the Redis worker and front its
// role asks for.
func newNode(ctx context.Context, cfg config.Serve, log *slog.Logger) (*node, error) {
	return newNodeWith(ctx, cfg, log, nodeOptions{})
}

// newNodeWith is newNode with options beyond the config.
func newNodeWith(ctx context.Context, cfg config.Serve, log *slog.Logger, nopt nodeOptions) (*node, error) {
	if cfg.Redis == "" && cfg.Role != roleAll {
		return nil, fmt.Errorf("--role %s needs --redis", cfg.Role)
	}
	// The hotkey, before the ports and the models (servewallet.go).
	if err := checkServeWallet(cfg); err != nil {
		return nil, err
	}
	if cfg.Role != roleAPI {
		// A quick check of the config, before the ports.
		if err := loadRuntime(cfg, log); err != nil {
			return nil, err
		}
	}
	n, err := bindNode(cfg, log)
	if err != nil {
		return nil, err
	}
	n.chainOpts = chainnode.Defaults()
	if nopt.chain != nil {
		n.chainOpts = *nopt.chain
	}
	if err := n.build(ctx, nopt); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// loadRuntime finds and loads the ONNX Runtime library.
func loadRuntime(cfg config.Serve, log *slog.Logger) error {
	lib, err := onnx.FindLibrary(cfg.ONNXRuntimeLib)
	if err != nil {
		return err
	}
	if err := onnx.Init(lib); err != nil {
		return err
	}
	log.Info("onnxruntime loaded", "library", lib, "version", onnx.Version())
	return nil
}

// bindNode binds every port of the node before anything slow happens (the
// models loading, the chain attaching): the HTTP port, and the axon port
// when the node runs one. Both answer at once: the HTTP port's liveness
// 200, its readiness 503, every other route (and the axon) 503 "starting:
// <phase>" until build swaps in the real handlers.
func bindNode(cfg config.Serve, log *slog.Logger) (*node, error) {
	n := &node{log: log, cfg: cfg, reg: prometheus.NewRegistry()}
	n.setPhase("loading models")
	if cfg.Role == roleAPI {
		n.setPhase("attaching to the chain")
	}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := n.setupGuards(n.reg); err != nil {
		return nil, err
	}
	metricsHandler := promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg})
	starting := server.Starting(n.startPhase, metricsHandler, n.startingRefused("http", "kserve"))
	p, err := n.openPort("http", "kserve", "--http-addr", cfg.HTTPAddr, starting)
	if err != nil {
		return nil, err
	}
	n.http = p
	if err := n.bindGRPC(); err != nil {
		n.close()
		return nil, err
	}
	if err := n.bindAxon(); err != nil {
		n.close()
		return nil, err
	}
	log.Info("listening; starting", "addr", n.Addr(), "grpc", n.GRPCAddr(), "axon", n.AxonAddr(), "phase", n.startPhase())
	return n, nil
}

// setPhase says what the start is doing now.
func (n *node) setPhase(what string) { n.phase.Store(&what) }

func (n *node) startPhase() string { return *n.phase.Load() }

// statCounter returns a counter that reads one field of stats at scrape
// time.
func statCounter[S any](stats func() S, name, help string, v func(S) uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
		func() float64 { return float64(v(stats())) })
}

// producerCollectors export a front's Redis producer counters.
func producerCollectors(p *redisq.Producer) []prometheus.Collector {
	counter := func(name, help string, v func(redisq.ProducerStats) uint64) prometheus.Collector {
		return statCounter(p.Stats, name, help, v)
	}
	return []prometheus.Collector{
		counter("taominer_redis_front_submitted_total", "Requests this front added to a model stream.",
			func(s redisq.ProducerStats) uint64 { return s.Submitted }),
		counter("taominer_redis_front_answered_total", "Worker replies handed to a waiting request.",
			func(s redisq.ProducerStats) uint64 { return s.Answered }),
		counter("taominer_redis_front_dropped_replies_total", "Worker replies for no waiting request (duplicates after a "+
			"takeover, or replies after the request's deadline or its client left), dropped.",
			func(s redisq.ProducerStats) uint64 { return s.Dropped }),
		counter("taominer_redis_front_malformed_replies_total", "Worker replies that did not decode, dropped.",
			func(s redisq.ProducerStats) uint64 { return s.Malformed }),
		counter("taominer_redis_front_failed_total", "Waiting requests answered 503 because the front lost Redis.",
			func(s redisq.ProducerStats) uint64 { return s.Failed }),
		counter("taominer_redis_front_writes_total", "Round trips that added requests to streams (one pipeline of XADDs each).",
			func(s redisq.ProducerStats) uint64 { return s.Writes }),
		counter("taominer_redis_front_reads_total", "Round trips of the reply loop that returned replies (one BLMPOP each).",
			func(s redisq.ProducerStats) uint64 { return s.Reads }),
	}
}

// workerCollectors export a worker's Redis queue counters.
func workerCollectors(w *redisnode.Worker) []prometheus.Collector {
	counter := func(name, help string, v func(redisq.ConsumerStats) uint64) prometheus.Collector {
		return statCounter(w.Stats, name, help, v)
	}
	return []prometheus.Collector{
		counter("taominer_redis_worker_read_total", "Requests this worker read from model streams.",
			func(s redisq.ConsumerStats) uint64 { return s.Read }),
		counter("taominer_redis_worker_claimed_total", "Requests this worker took over from a worker that left them pending.",
			func(s redisq.ConsumerStats) uint64 { return s.Claimed }),
		counter("taominer_redis_worker_expired_total", "Requests read past their deadline, deleted without running.",
			func(s redisq.ConsumerStats) uint64 { return s.Expired }),
		counter("taominer_redis_worker_malformed_total", "Stream entries that did not decode, deleted.",
			func(s redisq.ConsumerStats) uint64 { return s.Malformed }),
		counter("taominer_redis_worker_replied_total", "Answers this worker wrote to fronts' reply lists.",
			func(s redisq.ConsumerStats) uint64 { return s.Replied }),
		counter("taominer_redis_worker_writes_total", "Round trips that wrote answers (one MULTI each, however many answers it carried).",
			func(s redisq.ConsumerStats) uint64 { return s.Writes }),
	}
}

// Roles of --role.
const (
	roleAll    = "all"
	roleAPI    = "api"
	roleWorker = "worker"
)

// front starts a Redis front: a producer and a directory of the workers.
// observe, when set, is told about every request it queues; the
// producer's counters go to reg.
func (n *node) front(rdb *redis.Client, reg prometheus.Registerer, started time.Time, observe func(model, version string) batch.Observer) *redisnode.Front {
	prod := redisq.NewProducer(rdb, redisq.ProducerOptions{Logger: n.log})
	reg.MustRegister(producerCollectors(prod)...)
	dir := redisq.NewDirectory(rdb, redisq.DirectoryOptions{Logger: n.log})
	n.loops = append(n.loops, dir.Run)
	n.closers = append(n.closers, func() { _ = prod.Close() })
	return redisnode.NewFront(prod, dir, redisnode.FrontOptions{
		Observer: observe,
		Backlog: func(ctx context.Context, streams ...string) ([]int64, error) {
			return redisq.Undelivered(ctx, rdb, streams...)
		},
		Started: started,
	})
}

// build connects Redis when --redis is set, loads the runtime and the
// models, attaches the chain and builds the handlers the bound ports
// switch to. On an error the caller closes the node.
func (n *node) build(ctx context.Context, nopt nodeOptions) error {
	cfg := n.cfg
	if cfg.Redis == "" {
		return n.buildWith(ctx, nil, nopt)
	}
	rdb, err := redisq.NewClient(cfg.Redis)
	if err != nil {
		return err
	}
	redisq.SetLogger(n.log)
	err = n.buildWith(ctx, rdb, nopt)
	n.closers = append(n.closers, func() { _ = rdb.Close() }) // after the closers that use it
	return err
}

func (n *node) buildWith(ctx context.Context, rdb *redis.Client, nopt nodeOptions) error {
	cfg, log, reg := n.cfg, n.log, n.reg
	if cfg.Role == roleAPI {
		met := metrics.New(reg)
		var observe func(model, version string) batch.Observer
		if !nopt.noObservers {
			observe = met.Observer
		}
		f := n.front(rdb, reg, time.Now(), observe)
		opts := server.Options{
			Inferer: front.New(f, front.Options{DefaultTimeout: cfg.DefaultTimeout, Recorder: met}), Catalog: f, Repository: f, Stats: f,
			Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
			MaxBodyBytes: cfg.MaxBodyBytes,
			Version:      version,
			Logger:       log,
		}
		// The front is what validators reach: it follows the chain and
		// publishes its axon.
		cn, err := n.attachChain(ctx, reg, &opts)
		if err != nil {
			return err
		}
		return n.serveReady(opts, cn)
	}
	gpuStats, gpuSource, closeGPUs := gpuPoller(ctx, log)
	n.loops = append(n.loops, gpuStats.Run)
	n.closers = append(n.closers, closeGPUs)
	started := time.Now()
	met := metrics.New(reg)
	windows := throughput.New(nil)
	observe := func(model, version string) batch.Observer {
		return batch.Observers(met.Observer(model, version), windows.Observer(model, version))
	}
	if nopt.noObservers {
		observe = nil
	}
	var opener engine.Opener = onnxOpener{threads: cfg.IntraOpThreads, log: log}
	if nopt.opener != nil {
		opener = nopt.opener
	}
	eng := engine.New(opener, engine.Options{
		Dir:                  cfg.ModelsDir,
		DefaultMaxBatchSize:  cfg.MaxBatchSize,
		DefaultMaxQueueDelay: cfg.MaxQueueDelay,
		MaxQueueSize:         cfg.MaxQueueSize,
		ModelControl:         cfg.ModelControl,
		Observer:             observe,
		GPUs:                 gpuSource,
		IntraOpThreads:       cfg.IntraOpThreads,
		Logger:               log,
	})
	var watcher *watch.Watcher
	if cfg.ModelControl == engine.ControlPoll {
		// Fingerprint the folder before loading it: a file that changes
		// during the startup load is then reloaded once the watcher runs.
		loaded, err := watch.Fingerprints(cfg.ModelsDir)
		if err != nil {
			return err
		}
		watcher = watch.New(eng, loaded, watch.Options{Dir: cfg.ModelsDir, Interval: cfg.RepositoryPollInterval, Logger: log})
	}
	// The engine closes after the node's loops (run), or here when the
	// start fails.
	built := false
	defer func() {
		if !built {
			eng.Close(context.Background())
		}
	}()
	if err := eng.LoadAll(ctx); err != nil {
		return err
	}
	reg.MustRegister(metrics.NewCollector(eng), gpuStats)
	opts := server.Options{
		Inferer: front.New(eng, front.Options{DefaultTimeout: cfg.DefaultTimeout, Recorder: met}), Catalog: eng, Repository: eng,
		Stats:        statsSource{Engine: eng, windows: windows, started: started, gpus: gpuStats},
		Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		MaxBodyBytes: cfg.MaxBodyBytes,
		Version:      version,
		Logger:       log,
	}
	// A worker answers no validator: the api node follows the chain.
	var cn *chainNode
	if cfg.Role == roleWorker {
		if cfg.Network != "" {
			log.Info("worker role: --network ignored; the api node follows the chain and publishes the axon")
		}
	} else {
		n.setPhase("attaching to the chain")
		var err error
		if cn, err = n.attachChain(ctx, reg, &opts); err != nil {
			return err
		}
	}
	if rdb != nil {
		stats := opts.Stats.(statsSource)
		w := redisnode.NewWorker(rdb, eng, redisnode.WorkerOptions{ClaimIdle: cfg.RedisClaimIdle, Stats: stats.model, Logger: log})
		reg.MustRegister(workerCollectors(w)...)
		n.loops = append(n.loops, w.Run)
		if cfg.Role == roleAll {
			// The engine's observers already count what this node runs;
			// the front adds its own windows only.
			f := n.front(rdb, reg, started, nil)
			opts.Inferer, opts.Catalog, opts.Stats = front.New(f, front.Options{DefaultTimeout: cfg.DefaultTimeout, Recorder: met}), f, f
		}
	}
	if err := n.serveReady(opts, cn); err != nil {
		return err
	}
	n.engine, n.watcher, built = eng, watcher, true
	return nil
}

// serveReady builds the axon (when its port is bound) and the KServe
// handler from opts, and swaps them in for the starting handlers.
func (n *node) serveReady(opts server.Options, cn *chainNode) error {
	if err := n.startAxon(opts, n.reg, cn.metagraph()); err != nil {
		return err
	}
	if err := n.readyGRPC(opts); err != nil {
		return err
	}
	n.wireValidators(&opts, cn)
	n.http.set(server.New(opts))
	return nil
}

// close runs the closers.
func (n *node) close() {
	for _, c := range n.closers {
		c()
	}
	n.closers = nil
}

// Addr is the bound HTTP address.
func (n *node) Addr() string { return n.http.Addr() }

// run serves (and in poll mode follows the model folder) until ctx ends,
// then stops taking requests, lets in-flight ones finish within the
// shutdown timeout, and drains the models.
func (n *node) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if n.watcher != nil {
		g.Go(func() error { return n.watcher.Run(ctx) })
	}
	g.Go(func() error {
		if err := n.http.wait(); err != nil {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(n.waitGRPC)
	loopErrs := make([]error, len(n.loops))
	var loops sync.WaitGroup
	for i, loop := range n.loops {
		loops.Go(func() { loopErrs[i] = loop(ctx) })
	}
	g.Go(func() error {
		<-ctx.Done()
		n.log.Info("shutting down", "timeout", n.cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
		defer cancel()
		err := errors.Join(n.http.shutdown(sctx), n.shutdownGRPC(sctx))
		loops.Wait() // the worker replies to its jobs before the engine closes
		err = errors.Join(append(loopErrs, err)...)
		if n.engine != nil {
			err = errors.Join(err, n.engine.Close(sctx))
		}
		n.close()
		return err
	})
	return g.Wait()
}

// serve is `miner serve`.
func serve(ctx context.Context, cfg config.Serve, logOut io.Writer) error {
	log := newLogger(cfg, logOut)
	log.Info("starting taominer", "version", version, "config", cfg.String())
	n, err := newNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", n.Addr(), "role", cfg.Role, "redis", cfg.Redis != "", "models", cfg.ModelsDir, "model_control", cfg.ModelControl)
	return n.run(ctx)
}
