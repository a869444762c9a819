package redisnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Producer is what a Front needs of a redisq.Producer.
type Producer interface {
	Submit(ctx context.Context, model, version string, inputs []tensor.Tensor, priority float64) ([]tensor.Tensor, error)
}

// Front answers the protocol from the workers' announcements and queues
// inference through Redis (the api role, or the front half of role all).
type Front struct {
	prod    Producer
	dir     *redisq.Directory
	opt     FrontOptions
	windows *throughput.Tracker
	parsed  sync.Map // name:version → *parsedMetadata
}

// FrontOptions configure a Front.
type FrontOptions struct {
	// DefaultTimeout is the deadline of requests without parameters.timeout
	// (0: the producer's default).
	DefaultTimeout time.Duration
	// Observer, when set, is also told about every request the front
	// queued (e.g. the Prometheus request metrics).
	Observer func(model, version string) batch.Observer
	// Backlog, when set, counts each stream's entries no worker has read
	// yet, for the queue depth of /v1/stats (redisq.Undelivered).
	Backlog func(ctx context.Context, streams ...string) ([]int64, error)
	// Started is when the node started, for /v1/stats' uptime.
	Started time.Time
}

// NewFront returns a front over a producer and a running directory.
func NewFront(prod Producer, dir *redisq.Directory, opt FrontOptions) *Front {
	if opt.Started.IsZero() {
		opt.Started = time.Now()
	}
	return &Front{prod: prod, dir: dir, opt: opt, windows: throughput.New(nil)}
}

// lookup returns the announced metadata of a ready version, or the error
// to answer: 503 Redis unreachable, 404 unknown, 503 not ready.
func (f *Front) lookup(name, ver string) (string, *announcedMetadata, error) {
	if err := f.dir.Healthy(); err != nil {
		return "", nil, api.Errorf(http.StatusServiceUnavailable, "model '%s': %v", name, err)
	}
	st := f.dir.Model(name, ver)
	switch st.State {
	case redisq.ModelUnknown:
		if ver != "" {
			return "", nil, api.NotFound("unknown version '%s' of model '%s' (no live worker serves it)", ver, name)
		}
		return "", nil, api.NotFound("unknown model: '%s' (no live worker serves it)", name)
	case redisq.ModelAway:
		return "", nil, api.Errorf(http.StatusServiceUnavailable, "model '%s' has no live worker right now: one served it within the last %s (workers restarting, or Redis restarted and their next announcement is due); retry shortly", name, redisq.DefaultAwayGrace)
	case redisq.ModelNotReady:
		return "", nil, api.Errorf(http.StatusServiceUnavailable, "model '%s' version %s is not ready on any live worker", name, st.Version)
	}
	md, err := f.metadata(name, st.Version, st.Metadata)
	if err != nil {
		return "", nil, api.Errorf(http.StatusInternalServerError, "model '%s': bad metadata announced: %v", name, err)
	}
	return st.Version, md, nil
}

// parsedMetadata is a version's announced metadata and its decoding.
type parsedMetadata struct {
	raw json.RawMessage
	md  *announcedMetadata
}

// metadata decodes a version's announced metadata once per change: a
// request would otherwise pay for a JSON decode.
func (f *Front) metadata(name, ver string, raw json.RawMessage) (*announcedMetadata, error) {
	key := name + ":" + ver
	if v, ok := f.parsed.Load(key); ok {
		if p := v.(*parsedMetadata); bytes.Equal(p.raw, raw) {
			return p.md, nil
		}
	}
	var md announcedMetadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, err
	}
	f.parsed.Store(key, &parsedMetadata{raw: bytes.Clone(raw), md: &md})
	return &md, nil
}

// Infer validates req against the announced metadata and runs it on a
// worker through Redis.
func (f *Front) Infer(ctx context.Context, name, ver string, req *api.InferRequest) (*api.InferResponse, error) {
	if err := engine.CheckParameters(req); err != nil {
		return nil, err
	}
	version, md, err := f.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	inputs, err := arrange(name, md, req)
	if err != nil {
		return nil, err
	}
	for _, ro := range req.Outputs {
		if !slices.ContainsFunc(md.Outputs, func(t api.TensorMetadata) bool { return t.Name == ro.Name }) {
			return nil, api.BadRequest("unexpected inference output '%s' for model '%s'", ro.Name, name)
		}
	}
	prio, timeout, err := engine.Schedule(name, md.DynamicBatching, req.Parameters, f.opt.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	if p, ok := engine.PriorityFrom(ctx); ok {
		prio = batch.Priority(p)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	outs, err := f.prod.Submit(ctx, name, version, inputs, float64(prio))
	if err != nil {
		err = submitError(name, err)
	}
	f.observe(name, version, time.Since(start), batchItems(md, inputs), err)
	if err != nil {
		return nil, err
	}
	resp := &api.InferResponse{ModelName: name, ModelVersion: version, ID: req.ID}
	if len(req.Outputs) == 0 {
		for i := range outs {
			resp.Outputs = append(resp.Outputs, api.ResponseOutput{Tensor: outs[i], Binary: req.BinaryOutput})
		}
		return resp, nil
	}
	for i := range req.Outputs {
		ro := &req.Outputs[i]
		k := slices.IndexFunc(outs, func(t tensor.Tensor) bool { return t.Name == ro.Name })
		if k < 0 {
			return nil, api.Errorf(http.StatusInternalServerError, "model '%s': worker returned no output '%s'", name, ro.Name)
		}
		resp.Outputs = append(resp.Outputs, api.ResponseOutput{Tensor: outs[k], Binary: ro.WantBinary(req.BinaryOutput)})
	}
	return resp, nil
}

func submitError(name string, err error) error {
	var remote *redisq.RemoteError
	switch {
	case errors.As(err, &remote):
		return decodeError(remote.Msg)
	case errors.Is(err, redisq.ErrUnavailable), errors.Is(err, redisq.ErrClosed):
		return api.Errorf(http.StatusServiceUnavailable, "model '%s': %v", name, err)
	case errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(http.StatusServiceUnavailable, "model '%s': deadline passed before a worker answered", name)
	case errors.Is(err, context.Canceled):
		return api.Errorf(api.StatusClientClosedRequest, "model '%s': request cancelled: the client went away", name)
	}
	return api.Errorf(http.StatusInternalServerError, "model '%s': %v", name, err)
}

// arrange checks the inputs against the announced metadata with the same
// rules as the in-process path (engine.Arrange) and returns them in the
// model's order.
func arrange(name string, md *announcedMetadata, req *api.InferRequest) ([]tensor.Tensor, error) {
	spec := &models.Spec{Name: name, MaxBatchSize: md.MaxBatchSize}
	spec.Inputs = make([]models.TensorSpec, len(md.Inputs))
	for i, in := range md.Inputs {
		dt, err := tensor.ParseDataType(in.Datatype)
		if err != nil {
			return nil, api.Errorf(http.StatusInternalServerError, "model '%s': a worker announced input '%s' with %v", name, in.Name, err)
		}
		spec.Inputs[i] = models.TensorSpec{Name: in.Name, DataType: dt, Shape: in.Shape}
	}
	return engine.Arrange(spec, req)
}

// Ready reports whether Redis answers and some live worker has a model
// ready.
func (f *Front) Ready() bool {
	if f.dir.Healthy() != nil {
		return false
	}
	for _, w := range f.dir.Workers() {
		for _, m := range w.Models {
			if m.Ready {
				return true
			}
		}
	}
	return false
}

// ModelReady answers as lookup does.
func (f *Front) ModelReady(name, ver string) error {
	_, _, err := f.lookup(name, ver)
	return err
}

// ModelMetadata returns the announced metadata.
func (f *Front) ModelMetadata(name, ver string) (*api.ModelMetadata, error) {
	_, md, err := f.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	return &md.ModelMetadata, nil
}

// Index lists the versions live workers announce.
func (f *Front) Index(_ context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error) {
	if err := f.dir.Healthy(); err != nil {
		return nil, api.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	seen := map[[2]string]bool{}
	var rows []api.RepositoryIndexEntry
	for _, w := range f.dir.Workers() {
		for _, m := range w.Models {
			k := [2]string{m.Name, m.Version}
			if seen[k] {
				continue
			}
			seen[k] = true
			st := f.dir.Model(m.Name, m.Version)
			row := api.RepositoryIndexEntry{Name: m.Name, Version: m.Version, State: api.StateReady}
			if st.State != redisq.ModelReady {
				row.State, row.Reason = api.StateUnavailable, "not ready on any live worker"
			}
			if readyOnly && row.State != api.StateReady {
				continue
			}
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].Version < rows[j].Version
	})
	return rows, nil
}

// Load is refused: the workers own their models.
func (f *Front) Load(context.Context, string) error {
	return api.BadRequest("model load is not available on an api-role node; load models on the workers")
}

// Unload is refused: the workers own their models.
func (f *Front) Unload(context.Context, string) error {
	return api.BadRequest("model unload is not available on an api-role node; unload models on the workers")
}

// batchItems is the number of batch items of a request: the first
// input's batch dimension, or 1 for a model without a batch axis.
func batchItems(md *announcedMetadata, inputs []tensor.Tensor) int {
	if md.MaxBatchSize <= 0 || len(inputs) == 0 || len(inputs[0].Shape) == 0 {
		return 1
	}
	return int(inputs[0].Shape[0])
}
