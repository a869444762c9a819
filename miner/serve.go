package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/metrics"
	"github.com/taominer/taominer/miner/internal/throughput"
	"github.com/taominer/taominer/miner/internal/watch"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/onnx"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// observersOff leaves the batchers without observers (no histograms, no
// /v1/stats windows), for tests measuring what they cost.
var observersOff bool

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

// onnxOpener opens models with ONNX Runtime.
type onnxOpener struct{ threads int }

func (o onnxOpener) Open(_ context.Context, path string, cfg models.Config) (models.IO, models.Session, error) {
	opts := onnx.Options{IntraOpThreads: o.threads, ExecutionProvider: cfg.ExecutionProvider}
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
	engine  *engine.Engine
	watcher *watch.Watcher // nil unless --model-control=poll
	http    *http.Server
	ln      net.Listener
	cfg     config.Serve
}

// newNode loads the runtime and the models and binds the HTTP listener.
func newNode(ctx context.Context, cfg config.Serve, log *slog.Logger) (*node, error) {
	lib, err := onnx.FindLibrary(cfg.ONNXRuntimeLib)
	if err != nil {
		return nil, err
	}
	if err := onnx.Init(lib); err != nil {
		return nil, err
	}
	log.Info("onnxruntime loaded", "library", lib, "version", onnx.Version())
	started := time.Now()
	reg := prometheus.NewRegistry()
	met := metrics.New(reg)
	windows := throughput.New(nil)
	observe := func(model, version string) batch.Observer {
		return batch.Observers(met.Observer(model, version), windows.Observer(model, version))
	}
	if observersOff {
		observe = nil
	}
	eng := engine.New(onnxOpener{threads: cfg.IntraOpThreads}, engine.Options{
		Dir:                  cfg.ModelsDir,
		DefaultMaxBatchSize:  cfg.MaxBatchSize,
		DefaultMaxQueueDelay: cfg.MaxQueueDelay,
		MaxQueueSize:         cfg.MaxQueueSize,
		DefaultTimeout:       cfg.DefaultTimeout,
		ModelControl:         cfg.ModelControl,
		Observer:             observe,
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
		metrics.NewCollector(eng))
	handler := server.New(server.Options{
		Inferer: eng, Catalog: eng, Repository: eng,
		Stats:        statsSource{Engine: eng, windows: windows, started: started},
		Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		MaxBodyBytes: cfg.MaxBodyBytes,
		Version:      version,
		Logger:       log,
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		eng.Close(context.Background())
		return nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return &node{log: log, engine: eng, watcher: watcher, http: srv, ln: ln, cfg: cfg}, nil
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
	g.Go(func() error {
		<-ctx.Done()
		n.log.Info("shutting down", "timeout", n.cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
		defer cancel()
		err := n.http.Shutdown(sctx)
		return errors.Join(err, n.engine.Close(sctx))
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
	log.Info("serving", "addr", n.Addr(), "models", cfg.ModelsDir, "model_control", cfg.ModelControl)
	return n.run(ctx)
}
