package redisnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/throughput"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Producer is what a Front needs of a redisq.Producer.
type Producer interface {
	Submit(ctx context.Context, model, version string, inputs []tensor.Tensor, priority float64) ([]tensor.Tensor, error)
}

// Front answers the protocol from the workers' announcements (metadata,
// readiness, index, statistics) and is the Redis backend of a front.Front:
// requests queue through Redis to the workers (the api role, or the front
// half of role all).
type Front struct {
	prod    Producer
	dir     *redisq.Directory
	opt     FrontOptions
	windows *throughput.Tracker
	parsed  sync.Map // name:version → *parsedMetadata
	ledger  ledger
}

// FrontOptions configure a Front.
type FrontOptions struct {
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
// to answer: unavailable (Redis unreachable, not ready, away), not found.
func (f *Front) lookup(name, ver string) (string, *parsedMetadata, error) {
	f.ledger.foldEvery(f.dir.Workers, time.Second)
	if err := f.dir.Healthy(); err != nil {
		return "", nil, api.Fail(api.KindUnavailable, "model '%s': %v", name, err)
	}
	st := f.dir.Model(name, ver)
	switch st.State {
	case redisq.ModelUnknown:
		if ver != "" {
			return "", nil, api.NotFound("unknown version '%s' of model '%s' (no live worker serves it)", ver, name)
		}
		return "", nil, api.NotFound("unknown model: '%s' (no live worker serves it)", name)
	case redisq.ModelAway:
		return "", nil, api.Fail(api.KindUnavailable, "model '%s' has no live worker right now: one served it within the last %s (workers restarting, or Redis restarted and their next announcement is due); retry shortly", name, redisq.DefaultAwayGrace)
	case redisq.ModelNotReady:
		return "", nil, api.Fail(api.KindUnavailable, "model '%s' version %s is not ready on any live worker", name, st.Version)
	}
	md, err := f.metadata(name, st.Version, st.Metadata)
	if err != nil {
		return "", nil, api.Fail(api.KindInternal, "model '%s': bad metadata announced: %v", name, err)
	}
	return st.Version, md, nil
}

// parsedMetadata is a version's announced metadata and its decoding: a
// front.Target that queues requests through Redis.
type parsedMetadata struct {
	raw  json.RawMessage
	md   *announcedMetadata
	spec models.Spec
	f    *Front
}

// metadata decodes a version's announced metadata once per change: a
// request would otherwise pay for a JSON decode.
func (f *Front) metadata(name, ver string, raw json.RawMessage) (*parsedMetadata, error) {
	key := name + ":" + ver
	if v, ok := f.parsed.Load(key); ok {
		if p := v.(*parsedMetadata); bytes.Equal(p.raw, raw) {
			return p, nil
		}
	}
	var md announcedMetadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, err
	}
	spec, err := specOf(name, ver, &md)
	if err != nil {
		return nil, err
	}
	p := &parsedMetadata{raw: bytes.Clone(raw), md: &md, spec: spec, f: f}
	f.parsed.Store(key, p)
	return p, nil
}

// specOf is the model spec the front checks requests against, from the
// announced metadata.
func specOf(name, ver string, md *announcedMetadata) (models.Spec, error) {
	spec := models.Spec{Name: name, Version: ver, MaxBatchSize: md.MaxBatchSize,
		Config: models.Config{DynamicBatching: md.DynamicBatching}}
	for _, list := range []struct {
		from []api.TensorMetadata
		to   *[]models.TensorSpec
	}{{md.Inputs, &spec.Inputs}, {md.Outputs, &spec.Outputs}} {
		*list.to = make([]models.TensorSpec, len(list.from))
		for i, t := range list.from {
			dt, err := tensor.ParseDataType(t.Datatype)
			if err != nil {
				return models.Spec{}, fmt.Errorf("tensor '%s': %w", t.Name, err)
			}
			(*list.to)[i] = models.TensorSpec{Name: t.Name, DataType: dt, Shape: t.Shape}
		}
	}
	return spec, nil
}

// Target returns the announced version requests queue for: the front is
// the Redis backend of a front.Front.
func (f *Front) Target(name, ver string) (front.Target, error) {
	_, p, err := f.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Spec describes the announced version.
func (p *parsedMetadata) Spec() *models.Spec { return &p.spec }

// Submit queues inputs in the version's stream and waits for a worker's
// reply.
func (p *parsedMetadata) Submit(ctx context.Context, inputs []tensor.Tensor, prio batch.Priority) ([]tensor.Tensor, error) {
	name, version := p.spec.Name, p.spec.Version
	start := time.Now()
	outs, err := p.f.prod.Submit(ctx, name, version, inputs, float64(prio))
	if err != nil {
		err = submitError(name, err)
	}
	p.f.observe(name, version, time.Since(start), batchItems(p.md, inputs), err)
	return outs, err
}

func submitError(name string, err error) error {
	var remote *redisq.RemoteError
	switch {
	case errors.As(err, &remote):
		return decodeError(remote.Msg)
	case errors.Is(err, redisq.ErrUnavailable), errors.Is(err, redisq.ErrClosed):
		return api.Fail(api.KindUnavailable, "model '%s': %v", name, err)
	case errors.Is(err, context.DeadlineExceeded):
		return api.Fail(api.KindExpired, "model '%s': deadline passed before a worker answered", name)
	}
	return front.SubmitError(name, err)
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
	_, p, err := f.lookup(name, ver)
	if err != nil {
		return nil, err
	}
	return &p.md.ModelMetadata, nil
}

// Index lists the versions live workers announce.
func (f *Front) Index(_ context.Context, readyOnly bool) ([]api.RepositoryIndexEntry, error) {
	if err := f.dir.Healthy(); err != nil {
		return nil, api.Fail(api.KindUnavailable, "%v", err)
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
