package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/miner/internal/batch"
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

// node is a running miner: its engine and HTTP server on a bound listener.
type node struct {
	log     *slog.Logger
	engine  *engine.Engine // nil on an api-role node
	watcher *watch.Watcher // nil unless --model-control=poll
	http    *http.Server
	ln      net.Listener
	cfg     config.Serve
	// loops run until the node's context ends (the Redis worker and
	// directory); closers run after them and the engine, in order.
	loops   []func(context.Context) error
	closers []func()
	axon    *axonNode // nil unless --wallet is set (axon.go)
	guards  *guards   // the public ports' limits (guards.go)
}

// newNode loads the runtime and the models and binds the HTTP listener;
// with --redis it adds the Redis worker and front its role asks for.
func newNode(ctx context.Context, cfg config.Serve, log *slog.Logger) (*node, error) {
	return newNodeWith(ctx, cfg, log, nodeOptions{})
}

// newNodeWith is newNode with options beyond the config.
func newNodeWith(ctx context.Context, cfg config.Serve, log *slog.Logger, nopt nodeOptions) (*node, error) {
	var rdb *redis.Client
	if cfg.Redis == "" {
		if cfg.Role != roleAll {
			return nil, fmt.Errorf("--role %s needs --redis", cfg.Role)
		}
	} else {
		var err error
		if rdb, err = redisq.NewClient(cfg.Redis); err != nil {
			return nil, err
		}
		redisq.SetLogger(log)
	}
	n, err := buildNode(ctx, cfg, log, rdb, nopt)
	if err != nil {
		if rdb != nil {
			_ = rdb.Close()
		}
		return nil, err
	}
	if rdb != nil {
		n.closers = append(n.closers, func() { _ = rdb.Close() })
	}
	return n, nil
}

// producerCollectors export a front's Redis producer counters.
func producerCollectors(p *redisq.Producer) []prometheus.Collector {
	counter := func(name, help string, v func(redisq.ProducerStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(p.Stats())) })
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

// listen binds the HTTP port (KServe, health, metrics) behind its guard.
func (n *node) listen(handler http.Handler) error {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", n.cfg.HTTPAddr, err)
	}
	p := n.guards.port("http")
	n.ln = p.Listen(ln)
	n.http = p.Server(p.Handler("kserve", handler))
	return nil
}

func buildNode(ctx context.Context, cfg config.Serve, log *slog.Logger, rdb *redis.Client, nopt nodeOptions) (*node, error) {
	n := &node{log: log, cfg: cfg}
	if cfg.Role == roleAPI {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		if err := n.setupGuards(reg); err != nil {
			return nil, err
		}
		met := metrics.New(reg)
		var observe func(model, version string) batch.Observer
		if !nopt.noObservers {
			observe = met.Observer
		}
		f := n.front(rdb, reg, time.Now(), observe)
		opts := server.Options{
			Inferer: front.New(f, front.Options{DefaultTimeout: cfg.DefaultTimeout}), Catalog: f, Repository: f, Stats: f,
			Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
			MaxBodyBytes: cfg.MaxBodyBytes,
			Version:      version,
			Logger:       log,
		}
		// The front is what validators reach: it follows the chain and
		// publishes its axon.
		cn, err := n.attachChain(ctx, reg, &opts)
		if err != nil {
			n.close()
			return nil, err
		}
		if err := n.startAxon(opts.Inferer, reg, cn.metagraph()); err != nil {
			n.close()
			return nil, err
		}
		n.wireValidators(&opts, cn)
		if err := n.listen(server.New(opts)); err != nil {
			n.close()
			return nil, err
		}
		return n, nil
	}
	lib, err := onnx.FindLibrary(cfg.ONNXRuntimeLib)
	if err != nil {
		return nil, err
	}
	if err := onnx.Init(lib); err != nil {
		return nil, err
	}
	log.Info("onnxruntime loaded", "library", lib, "version", onnx.Version())
	gpuStats, gpuSource, closeGPUs := gpuPoller(ctx, log)
	n.loops = append(n.loops, gpuStats.Run)
	n.closers = append(n.closers, closeGPUs)
	started := time.Now()
	reg := prometheus.NewRegistry()
	if err := n.setupGuards(reg); err != nil {
		return nil, err
	}
	met := metrics.New(reg)
	windows := throughput.New(nil)
	observe := func(model, version string) batch.Observer {
		return batch.Observers(met.Observer(model, version), windows.Observer(model, version))
	}
	if nopt.noObservers {
		observe = nil
	}
	eng := engine.New(onnxOpener{threads: cfg.IntraOpThreads, log: log}, engine.Options{
		Dir:                  cfg.ModelsDir,
		DefaultMaxBatchSize:  cfg.MaxBatchSize,
		DefaultMaxQueueDelay: cfg.MaxQueueDelay,
		MaxQueueSize:         cfg.MaxQueueSize,
		ModelControl:         cfg.ModelControl,
		Observer:             observe,
		GPUs:                 gpuSource,
		Logger:               log,
	})
	var watcher *watch.Watcher
	if cfg.ModelControl == engine.ControlPoll {
		// Fingerprint the folder before loading it: a file that changes
		// during the startup load is then reloaded once the watcher runs.
		loaded, err := watch.Fingerprints(cfg.ModelsDir)
		if err != nil {
			return nil, err
		}
		watcher = watch.New(eng, loaded, watch.Options{Dir: cfg.ModelsDir, Interval: cfg.RepositoryPollInterval, Logger: log})
	}
	if err := eng.LoadAll(ctx); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewCollector(eng), gpuStats)
	n.engine, n.watcher = eng, watcher
	opts := server.Options{
		Inferer: front.New(eng, front.Options{DefaultTimeout: cfg.DefaultTimeout}), Catalog: eng, Repository: eng,
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
	} else if cn, err = n.attachChain(ctx, reg, &opts); err != nil {
		eng.Close(context.Background())
		n.close()
		return nil, err
	}
	if rdb != nil {
		stats := opts.Stats.(statsSource)
		w := redisnode.NewWorker(rdb, eng, redisnode.WorkerOptions{ClaimIdle: cfg.RedisClaimIdle, Stats: stats.model, Logger: log})
		n.loops = append(n.loops, w.Run)
		if cfg.Role == roleAll {
			// The engine's observers already count what this node runs;
			// the front adds its own windows only.
			f := n.front(rdb, reg, started, nil)
			opts.Inferer, opts.Catalog, opts.Stats = front.New(f, front.Options{DefaultTimeout: cfg.DefaultTimeout}), f, f
		}
	}
	if err := n.startAxon(opts.Inferer, reg, cn.metagraph()); err != nil {
		eng.Close(context.Background())
		n.close()
		return nil, err
	}
	n.wireValidators(&opts, cn)
	if err := n.listen(server.New(opts)); err != nil {
		eng.Close(context.Background())
		n.close()
		return nil, err
	}
	return n, nil
}

// close runs the closers.
func (n *node) close() {
	for _, c := range n.closers {
		c()
	}
	n.closers = nil
}

// Addr is the bound HTTP address.
func (n *node) Addr() string { return n.ln.Addr().String() }

// run serves (and in poll mode follows the model folder) until ctx ends,
// then stops taking requests, lets in-flight ones finish within the
// shutdown timeout, and drains the models.
func (n *node) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if n.watcher != nil {
		g.Go(func() error { return n.watcher.Run(ctx) })
	}
	g.Go(func() error {
		if err := n.http.Serve(n.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
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
		err := n.http.Shutdown(sctx)
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
