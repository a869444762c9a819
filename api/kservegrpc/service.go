package kservegrpc

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/kservepb"
)

// Inferer runs inference requests (the miner's one front).
type Inferer interface {
	Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error)
}

// Catalog answers readiness and metadata questions; errors are *api.Error
// of a Kind.
type Catalog interface {
	Ready() bool
	ModelReady(model, version string) error
	ModelMetadata(model, version string) (*api.ModelMetadata, error)
}

// Configs reports model configurations (ModelConfig, which perf_analyzer
// needs).
type Configs interface {
	ModelConfig(model, version string) (*api.ModelConfig, error)
}

// Repository lists, loads and unloads models.
type Repository interface {
	Index(ctx context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error)
	Load(ctx context.Context, model string) error
	Unload(ctx context.Context, model string) error
}

// StatsSource reports per-model statistics; empty model means all models.
type StatsSource interface {
	Stats(model, version string) (*api.ModelStatsResponse, error)
}

// Options are what a ready server answers from: the same front and
// catalog as the HTTP port.
type Options struct {
	Inferer    Inferer
	Catalog    Catalog
	Configs    Configs
	Repository Repository
	Stats      StatsSource
	// Version is ServerMetadata's version.
	Version string
	Logger  *slog.Logger
}

// ServerName is ServerMetadata's name.
const ServerName = "taominer"

// Extensions are what ServerMetadata lists: the Triton extensions this
// port implements.
var Extensions = []string{"model_configuration", "model_repository", "schedule_policy", "statistics"}

// handler implements the RPCs; the ones it does not declare answer
// UNIMPLEMENTED.
type handler struct {
	kservepb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// ready returns the server's options, or UNAVAILABLE while it starts.
func (h *handler) ready(ctx context.Context) (*Options, error) {
	if o := h.s.svc.Load(); o != nil {
		return o, nil
	}
	callOf(ctx).setReason(reasonStarting)
	h.s.refused(reasonStarting, "method", method(callOf(ctx).fullMethod()))
	return nil, status.Errorf(codes.Unavailable, "starting: %s", h.s.opt.Phase())
}

// fail answers err with its kind's code and records its reason.
func fail(ctx context.Context, err error) error {
	if api.KindOf(err) == api.KindCancelled && deadlinePassed(ctx) {
		// gRPC cancels a call whose deadline passes: it expired.
		err = api.Fail(api.KindExpired, "the call's gRPC deadline passed before its answer")
	}
	reason, st := toStatus(err)
	if reason != "" {
		callOf(ctx).setReason(reason)
	}
	return st
}

// deadlinePassed reports whether ctx has a deadline in the past.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (h *handler) ServerLive(context.Context, *kservepb.ServerLiveRequest) (*kservepb.ServerLiveResponse, error) {
	return &kservepb.ServerLiveResponse{Live: true}, nil
}

func (h *handler) ServerReady(context.Context, *kservepb.ServerReadyRequest) (*kservepb.ServerReadyResponse, error) {
	o := h.s.svc.Load()
	return &kservepb.ServerReadyResponse{Ready: o != nil && o.Catalog.Ready()}, nil
}

// ModelReady reports readiness in the answer: false for a model that is
// unknown or not ready (the OIP rule: a non-OK status only for real
// errors).
func (h *handler) ModelReady(ctx context.Context, m *kservepb.ModelReadyRequest) (*kservepb.ModelReadyResponse, error) {
	o := h.s.svc.Load()
	if o == nil {
		return &kservepb.ModelReadyResponse{}, nil
	}
	err := o.Catalog.ModelReady(m.GetName(), m.GetVersion())
	return &kservepb.ModelReadyResponse{Ready: err == nil}, nil
}

func (h *handler) ServerMetadata(ctx context.Context, _ *kservepb.ServerMetadataRequest) (*kservepb.ServerMetadataResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	return &kservepb.ServerMetadataResponse{Name: ServerName, Version: o.Version, Extensions: Extensions}, nil
}

func (h *handler) ModelMetadata(ctx context.Context, m *kservepb.ModelMetadataRequest) (*kservepb.ModelMetadataResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	md, err := o.Catalog.ModelMetadata(m.GetName(), m.GetVersion())
	if err != nil {
		return nil, fail(ctx, err)
	}
	tm := func(ts []api.TensorMetadata) []*kservepb.ModelMetadataResponse_TensorMetadata {
		out := make([]*kservepb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &kservepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &kservepb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform,
		Inputs: tm(md.Inputs), Outputs: tm(md.Outputs)}, nil
}

func (h *handler) ModelConfig(ctx context.Context, m *kservepb.ModelConfigRequest) (*kservepb.ModelConfigResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	c, err := o.Configs.ModelConfig(m.GetName(), m.GetVersion())
	if err != nil {
		return nil, fail(ctx, err)
	}
	cfg := &kservepb.ModelConfig{Name: c.Name, Platform: c.Platform, Backend: "onnxruntime", MaxBatchSize: int32(c.MaxBatchSize)}
	if c.DynamicBatching {
		cfg.DynamicBatching = &kservepb.ModelDynamicBatching{}
	}
	for _, t := range c.Inputs {
		cfg.Input = append(cfg.Input, &kservepb.ModelInput{Name: t.Name, DataType: dataType(t.Datatype), Dims: t.Shape})
	}
	for _, t := range c.Outputs {
		cfg.Output = append(cfg.Output, &kservepb.ModelOutput{Name: t.Name, DataType: dataType(t.Datatype), Dims: t.Shape})
	}
	return &kservepb.ModelConfigResponse{Config: cfg}, nil
}

// dataType is the model configuration's name of a protocol datatype
// (BYTES is TYPE_STRING there).
func dataType(dt string) kservepb.DataType {
	if dt == "BYTES" {
		return kservepb.DataType_TYPE_STRING
	}
	return kservepb.DataType(kservepb.DataType_value["TYPE_"+dt])
}

func (h *handler) ModelStatistics(ctx context.Context, m *kservepb.ModelStatisticsRequest) (*kservepb.ModelStatisticsResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	st, err := o.Stats.Stats(m.GetName(), m.GetVersion())
	if err != nil {
		return nil, fail(ctx, err)
	}
	d := func(x api.StatDuration) *kservepb.StatisticDuration {
		return &kservepb.StatisticDuration{Count: x.Count, Ns: x.Ns}
	}
	out := &kservepb.ModelStatisticsResponse{}
	for _, s := range st.ModelStats {
		is := s.InferenceStats
		ms := &kservepb.ModelStatistics{Name: s.Name, Version: s.Version, LastInference: s.LastInference,
			InferenceCount: s.InferenceCount, ExecutionCount: s.ExecutionCount,
			InferenceStats: &kservepb.InferStatistics{Success: d(is.Success), Fail: d(is.Fail), Queue: d(is.Queue),
				ComputeInput: d(is.ComputeInput), ComputeInfer: d(is.ComputeInfer), ComputeOutput: d(is.ComputeOutput),
				CacheHit: d(is.CacheHit), CacheMiss: d(is.CacheMiss)}}
		for _, b := range s.BatchStats {
			ms.BatchStats = append(ms.BatchStats, &kservepb.InferBatchStatistics{BatchSize: b.BatchSize,
				ComputeInput: d(b.ComputeInput), ComputeInfer: d(b.ComputeInfer), ComputeOutput: d(b.ComputeOutput)})
		}
		out.ModelStats = append(out.ModelStats, ms)
	}
	return out, nil
}

func (h *handler) RepositoryIndex(ctx context.Context, m *kservepb.RepositoryIndexRequest) (*kservepb.RepositoryIndexResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := o.Repository.Index(ctx, m.GetReady())
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &kservepb.RepositoryIndexResponse{}
	for _, r := range rows {
		out.Models = append(out.Models, &kservepb.RepositoryIndexResponse_ModelIndex{Name: r.Name, Version: r.Version, State: r.State, Reason: r.Reason})
	}
	return out, nil
}

func (h *handler) RepositoryModelLoad(ctx context.Context, m *kservepb.RepositoryModelLoadRequest) (*kservepb.RepositoryModelLoadResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	if len(m.GetParameters()) > 0 {
		return nil, fail(ctx, api.BadRequest("load parameters (config, file:) are not supported; put the model and its config.yaml in the repository folder"))
	}
	if err := o.Repository.Load(ctx, m.GetModelName()); err != nil {
		return nil, fail(ctx, err)
	}
	return &kservepb.RepositoryModelLoadResponse{}, nil
}

func (h *handler) RepositoryModelUnload(ctx context.Context, m *kservepb.RepositoryModelUnloadRequest) (*kservepb.RepositoryModelUnloadResponse, error) {
	o, err := h.ready(ctx)
	if err != nil {
		return nil, err
	}
	if err := o.Repository.Unload(ctx, m.GetModelName()); err != nil {
		return nil, fail(ctx, err)
	}
	return &kservepb.RepositoryModelUnloadResponse{}, nil
}
