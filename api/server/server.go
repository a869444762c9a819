// Package server is the HTTP front of the miner: gin routes for the KServe v2
// / Open Inference Protocol (Triton-compatible, with the binary tensor,
// model repository and statistics extensions), health, and Prometheus
// metrics. It decodes and validates requests and hands them to the
// interfaces below; it knows nothing of models, runtimes or queues.
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
)

// Inferer runs inference requests.
type Inferer interface {
	Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error)
}

// Expecter is optionally implemented by an Inferer that gathers requests
// into batches: the KServe infer route announces each request once its body
// is in, before decoding it, so that a batch forming meanwhile may wait for
// it; the route passes the returned context to Infer and calls the returned
// function when it has answered.
type Expecter interface {
	Expect(ctx context.Context, model, version string) (context.Context, func())
}

// Catalog answers readiness and metadata questions. Errors carry their HTTP
// status as *api.Error (404 unknown model or version, 503 not ready).
type Catalog interface {
	Ready() bool
	ModelReady(model, version string) error
	ModelMetadata(model, version string) (*api.ModelMetadata, error)
}

// Repository lists, loads and unloads models.
type Repository interface {
	Index(ctx context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error)
	Load(ctx context.Context, model string) error
	Unload(ctx context.Context, model string) error
}

// StatsSource reports per-model statistics; empty model means all models,
// empty version all versions.
type StatsSource interface {
	Stats(model, version string) (*api.ModelStatsResponse, error)
}

// Options are the server's dependencies and limits.
type Options struct {
	Inferer    Inferer
	Catalog    Catalog
	Repository Repository
	Stats      StatsSource
	// Metrics serves GET /metrics; nil leaves the route out.
	Metrics http.Handler
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// Version is reported by GET /v2.
	Version string
	// Chain serves GET /v1/chain (the node's view of the chain); nil answers 404 (offline).
	Chain ChainSource
	// Axon serves GET /v1/axon (the axon's recent validator calls), online or offline; nil answers
	// 404 (no axon).
	Axon AxonSource
	// Priority, when set, gives an infer request its batcher priority from
	// the request's context (InferHandler behind the Epistula receiver: the
	// verified signer's stake); 0 leaves it to parameters.priority and the
	// model's config.
	Priority func(context.Context) float64
	Logger   *slog.Logger
}

// Extensions are the protocol extensions this server implements, as GET /v2
// lists them.
var Extensions = []string{"binary_tensor_data", "model_repository", "statistics"}

// ServerName is the name GET /v2 reports.
const ServerName = "taominer"

// New returns the HTTP handler.
func New(opt Options) http.Handler {
	h, r := engine(opt)
	v2 := r.Group("/v2")
	v2.GET("", h.serverMetadata)
	v2.GET("/health/live", h.live)
	v2.GET("/health/ready", h.ready)
	v2.GET("/models/stats", h.stats)
	for _, p := range []string{"/models/:model", "/models/:model/versions/:version"} {
		v2.GET(p, h.modelMetadata)
		v2.GET(p+"/ready", h.modelReady)
		v2.POST(p+"/infer", h.infer)
		v2.GET(p+"/stats", h.stats)
	}
	v2.POST("/repository/index", h.index)
	v2.POST("/repository/models/:model/load", h.load)
	v2.POST("/repository/models/:model/unload", h.unload)
	if opt.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opt.Metrics))
	}
	registerDashboard(r) // GET / and /dashboard: the live stats page (dashboard.go)
	routeV1Stats(r, h)   // GET /v1/stats when opt.Stats reports throughput (v1stats.go)
	routeV1Chain(r, h)   // GET /v1/chain (v1chain.go)
	return r
}

// InferHandler returns a handler of the KServe v2 inference routes alone
// (POST /v2/models/{model}[/versions/{version}]/infer, JSON and binary),
// answering as New's do, for another port's admitted callers (the axon
// port's Epistula requests). Other paths are answered 404.
func InferHandler(opt Options) http.Handler {
	h, r := engine(opt)
	for _, p := range []string{"/v2/models/:model", "/v2/models/:model/versions/:version"} {
		r.POST(p+"/infer", h.infer)
	}
	return r
}

// engine is the gin engine and handlers of opt, with the error answers
// of unknown routes and methods.
func engine(opt Options) (*handlers, *gin.Engine) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 20
	}
	h := &handlers{opt: opt, log: opt.Logger}
	r := gin.New()
	r.Use(h.recover)
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		writeError(c, api.NotFound("no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		writeError(c, api.Errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	return h, r
}

type handlers struct {
	opt Options
	log *slog.Logger
}

func (h *handlers) recover(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("handler panicked", "path", c.Request.URL.Path, "panic", p)
			writeError(c, api.Errorf(http.StatusInternalServerError, "internal error"))
			c.Abort()
		}
	}()
	c.Next()
}

// writeError writes {"error": "..."} with the error's status.
func writeError(c *gin.Context, err error) {
	status := api.StatusOf(err)
	if status == http.StatusTooManyRequests {
		c.Header("Retry-After", "1")
	}
	c.JSON(status, api.ErrorBody{Error: err.Error()})
}

func (h *handlers) serverMetadata(c *gin.Context) {
	c.JSON(http.StatusOK, api.ServerMetadata{Name: ServerName, Version: h.opt.Version, Extensions: Extensions})
}

func (h *handlers) live(c *gin.Context) { c.Status(http.StatusOK) }

func (h *handlers) ready(c *gin.Context) {
	if !h.opt.Catalog.Ready() {
		c.Status(http.StatusServiceUnavailable)
		return
	}
	c.Status(http.StatusOK)
}

func (h *handlers) modelMetadata(c *gin.Context) {
	md, err := h.opt.Catalog.ModelMetadata(c.Param("model"), c.Param("version"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, md)
}

func (h *handlers) modelReady(c *gin.Context) {
	if err := h.opt.Catalog.ModelReady(c.Param("model"), c.Param("version")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (h *handlers) stats(c *gin.Context) {
	s, err := h.opt.Stats.Stats(c.Param("model"), c.Param("version"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, s)
}
