// Package redisnode puts the engine behind the Redis queue of package
// redisq: a Worker consumes each serving model version's stream into the
// local engine and announces what it serves; a Front is the api role's
// Inferer, Catalog and Repository, validating requests against the
// announced metadata and queueing them through a Producer.
package redisnode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// Engine is what a Worker needs of the local engine: the versions it
// serves, and the backend its jobs run on through a front.Front (the same
// checks as a request arriving over HTTP).
type Engine interface {
	front.Backend
	Serving() []engine.Served
}

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	// ID names the worker in the consumer groups and its announcement;
	// unique among live workers (default: host-pid-random).
	ID string
	// ClaimIdle is how long an entry stays pending with a consumer before
	// a live worker takes it over (default 5 s).
	ClaimIdle time.Duration
	// ClaimEvery is the claim period (default 2 s).
	ClaimEvery time.Duration
	// Reconcile is how often the worker follows the engine's versions
	// (default 1 s).
	Reconcile time.Duration
	// AnnounceTTL is the announcement TTL (default redisq's).
	AnnounceTTL time.Duration
	// AnnounceEvery is the heartbeat period, which is also how fresh the
	// statistics fronts show are (default 1 s, at most AnnounceTTL/2).
	AnnounceEvery time.Duration
	// Stats, when set, gives the statistics announced with each version.
	Stats  StatsFunc
	Logger *slog.Logger
}

// Worker consumes the streams of the engine's serving versions.
type Worker struct {
	rdb   *redis.Client
	eng   Engine
	front *front.Front // over eng, without --default-timeout: a job's deadline is its own
	opt   WorkerOptions
	log   *slog.Logger
	ann   *redisq.Announcer

	mu        sync.Mutex
	consumers map[string]*running  // name:version → its loops
	retired   []*running           // stopped loops, waited for by Run's end
	ended     redisq.ConsumerStats // the counts of consumers whose loops ended
}

type running struct {
	served   engine.Served
	consumer *redisq.Consumer
	cancel   context.CancelFunc
	done     chan struct{} // closed once its loops and jobs have ended
}

// Stats returns the worker's queue counters, summed over its consumers
// (one per model version) since it started, those of versions it no longer
// serves included, so that they never go back.
func (w *Worker) Stats() redisq.ConsumerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.ended
	for _, r := range w.consumers {
		addConsumerStats(&s, r.consumer.Stats())
	}
	for _, r := range w.retired {
		addConsumerStats(&s, r.consumer.Stats())
	}
	return s
}

func addConsumerStats(a *redisq.ConsumerStats, b redisq.ConsumerStats) {
	a.Read += b.Read
	a.Claimed += b.Claimed
	a.Expired += b.Expired
	a.Malformed += b.Malformed
	a.Replied += b.Replied
	a.Writes += b.Writes
}

// NewWorker returns a worker; Run starts it. rdb belongs to the caller.
func NewWorker(rdb *redis.Client, eng Engine, opt WorkerOptions) *Worker {
	if opt.ID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opt.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if opt.ClaimIdle <= 0 {
		opt.ClaimIdle = 5 * time.Second
	}
	if opt.ClaimEvery <= 0 {
		opt.ClaimEvery = 2 * time.Second
	}
	if opt.Reconcile <= 0 {
		opt.Reconcile = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{rdb: rdb, eng: eng, front: front.New(eng, front.Options{}), opt: opt, log: opt.Logger, consumers: map[string]*running{}}
	if opt.AnnounceEvery <= 0 {
		opt.AnnounceEvery = time.Second
	}
	w.ann = redisq.NewAnnouncer(rdb, redisq.AnnouncerOptions{Worker: opt.ID, TTL: opt.AnnounceTTL, Interval: opt.AnnounceEvery,
		Stats: announceStats(opt.Stats), Logger: opt.Logger})
	return w
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.ann.Worker() }

// Run announces and consumes until ctx ends, following the engine's
// versions every Reconcile; then it stops the consumer loops (in-flight jobs
// finish and reply), withdraws the announcement and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	annCtx, stopAnn := context.WithCancel(context.Background())
	annDone := make(chan error, 1)
	w.reconcile(ctx)
	go func() { annDone <- w.ann.Run(annCtx) }()
	t := time.NewTicker(w.opt.Reconcile)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			all := slices.Collect(maps.Values(w.consumers))
			all = append(all, w.retired...)
			w.mu.Unlock()
			for _, r := range all {
				r.cancel()
			}
			for _, r := range all {
				<-r.done
			}
			w.mu.Lock()
			for _, r := range all {
				addConsumerStats(&w.ended, r.consumer.Stats())
			}
			w.consumers, w.retired = map[string]*running{}, nil
			w.mu.Unlock()
			stopAnn()
			// A withdrawal that failed (Redis gone) is logged by the
			// announcer; the announcement then expires by its TTL, which
			// is no reason to fail the shutdown.
			<-annDone
			return nil
		case <-t.C:
			w.reconcile(ctx)
		}
	}
}

// reconcile starts loops for new versions, stops those of gone ones, and
// republishes the announcement when the set changed.
func (w *Worker) reconcile(ctx context.Context) {
	served := w.eng.Serving()
	w.mu.Lock()
	defer w.mu.Unlock()
	want := map[string]engine.Served{}
	for _, s := range served {
		want[s.Name+":"+s.Version] = s
	}
	w.retired = slices.DeleteFunc(w.retired, func(r *running) bool {
		select {
		case <-r.done:
			addConsumerStats(&w.ended, r.consumer.Stats()) // final: its jobs have ended
			return true
		default:
			return false
		}
	})
	changed := false
	for k, r := range w.consumers {
		if _, ok := want[k]; !ok {
			r.cancel()
			delete(w.consumers, k)
			w.retired = append(w.retired, r)
			changed = true
		}
	}
	for k, s := range want {
		if old, ok := w.consumers[k]; ok {
			if metaEqual(old.served, s) && old.served.MaxQueueDelay == s.MaxQueueDelay && old.served.Instances == s.Instances {
				continue
			}
			// A reload changed the version's metadata or batching: restart
			// its loops with the new values (in-flight jobs still reply).
			old.cancel()
			w.retired = append(w.retired, old)
			delete(w.consumers, k)
		}
		c, err := redisq.NewConsumer(w.rdb, redisq.ConsumerOptions{Model: s.Name, Version: s.Version, Name: w.opt.ID, Logger: w.log})
		if err != nil {
			w.log.Error("redis worker: consumer", "model", s.Name, "version", s.Version, "err", err)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		r := &running{served: s, consumer: c, cancel: cancel, done: make(chan struct{})}
		w.consumers[k] = r
		go w.consume(lctx, c, s, r.done)
		changed = true
	}
	if changed {
		models := make([]redisq.AnnouncedModel, 0, len(w.consumers))
		for _, r := range w.consumers {
			md, err := json.Marshal(announcedMetadata{ModelMetadata: *r.served.Metadata, MaxBatchSize: r.served.MaxBatchSize,
				DynamicBatching: r.served.DynamicBatching})
			if err != nil {
				continue
			}
			models = append(models, redisq.AnnouncedModel{Name: r.served.Name, Version: r.served.Version, Ready: true, Metadata: md})
		}
		w.ann.Set(models)
	}
}

func metaEqual(a, b engine.Served) bool {
	x, _ := json.Marshal(announcedMetadata{ModelMetadata: *a.Metadata, DynamicBatching: a.DynamicBatching})
	y, _ := json.Marshal(announcedMetadata{ModelMetadata: *b.Metadata, DynamicBatching: b.DynamicBatching})
	return string(x) == string(y) && a.MaxBatchSize == b.MaxBatchSize
}

// announcedMetadata is the KServe metadata plus what a front needs to check
// a request fully.
type announcedMetadata struct {
	api.ModelMetadata
	MaxBatchSize int `json:"max_batch_size"`
	// DynamicBatching carries the priority levels and queue policy the
	// front resolves parameters.priority and parameters.timeout with.
	DynamicBatching *models.DynamicBatching `json:"dynamic_batching,omitempty"`
}

// A worker removes the consumers of gone workers from its streams' groups
// every pruneEvery, once idle for pruneIdle.
const (
	pruneEvery = time.Minute
	pruneIdle  = 10 * time.Minute
)

// consume runs one version's read loop and claim loop until ctx ends, then
// waits for its jobs to reply.
func (w *Worker) consume(ctx context.Context, c *redisq.Consumer, s engine.Served, done chan struct{}) {
	defer close(done)
	maxBatch := max(s.MaxBatchSize, 1)
	block := max(s.MaxQueueDelay, 20*time.Millisecond)
	// Jobs in flight are bounded so a busy worker leaves entries in the
	// stream for others: two batches per instance.
	slots := make(chan struct{}, 2*maxBatch*max(s.Instances, 1))
	var jobs sync.WaitGroup
	defer jobs.Wait()
	// runAll announces the jobs it was handed to the version's batcher
	// before any runs (front.Expect), so that the batch the first one forms
	// waits for the rest (at most the gather window) instead of running
	// alone: jobs popped together run together. A lone job has nothing to
	// wait for and is not announced.
	runAll := func(js []*redisq.Job) {
		var ctxs []context.Context
		var ends []func()
		if len(js) > 1 {
			ctxs, ends = make([]context.Context, len(js)), make([]func(), len(js))
			for i := range js {
				ctxs[i], ends[i] = w.front.Expect(context.Background(), s.Name, s.Version)
			}
		}
		for i, j := range js {
			ctx, end := context.Background(), func() {}
			if ctxs != nil {
				ctx, end = ctxs[i], ends[i]
			}
			slots <- struct{}{}
			jobs.Go(func() {
				defer func() { <-slots }()
				defer end()
				w.runJob(ctx, c, s, j)
			})
		}
	}
	var claims sync.WaitGroup
	claims.Go(func() {
		t := time.NewTicker(w.opt.ClaimEvery)
		defer t.Stop()
		lastPrune := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if time.Since(lastPrune) >= pruneEvery {
				lastPrune = time.Now()
				if n, err := c.Prune(ctx, pruneIdle); err != nil && ctx.Err() == nil {
					w.log.Warn("redis worker: prune", "stream", c.Stream(), "err", err)
				} else if n > 0 {
					w.log.Info("redis worker: removed gone workers from the consumer group", "stream", c.Stream(), "count", n)
				}
			}
			js, err := c.Claim(ctx, w.opt.ClaimIdle)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("redis worker: claim", "stream", c.Stream(), "err", err)
				}
				continue
			}
			runAll(js)
		}
	})
	defer claims.Wait()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		// Read only as many as there are free slots (at least one: wait).
		free := cap(slots) - len(slots)
		if free == 0 {
			slots <- struct{}{}
			<-slots
			continue
		}
		js, err := c.ReadBatch(ctx, min(maxBatch, free), block)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("redis worker: read", "stream", c.Stream(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		runAll(js)
	}
}

// runJob runs one job on the engine under ectx (its announcement, see
// front.Expect) and replies.
func (w *Worker) runJob(ectx context.Context, c *redisq.Consumer, s engine.Served, j *redisq.Job) {
	ctx, cancel := context.WithDeadline(ectx, j.Deadline)
	resp, err := w.front.Infer(ctx, s.Name, s.Version, &api.InferRequest{Inputs: j.Inputs, Priority: j.Priority})
	cancel()
	var outs []tensor.Tensor
	if err != nil {
		err = errors.New(encodeError(err))
	} else {
		outs = make([]tensor.Tensor, len(resp.Outputs))
		for i := range resp.Outputs {
			outs[i] = resp.Outputs[i].Tensor
		}
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if err := c.Reply(rctx, j, outs, err); err != nil {
		// The entry stays pending; a live worker claims it later.
		w.log.Warn("redis worker: reply", "request", j.ID, "err", err)
	}
}

// Errors cross Redis as "[kind] message" (api.Kind's names) so the front
// answers with the kind the worker's engine chose. "[status] message", as
// workers before kinds sent it, is still read (a rolling upgrade).
var kindPrefix = regexp.MustCompile(`^\[([a-z_]+|[1-5][0-9][0-9])\] `)

func encodeError(err error) string {
	return "[" + api.KindOf(err).String() + "] " + err.Error()
}

// decodeError turns a worker's error message back into an *api.Error.
func decodeError(msg string) *api.Error {
	if m := kindPrefix.FindStringSubmatch(msg); m != nil {
		if k, ok := api.ParseKind(m[1]); ok {
			return api.Fail(k, "%s", msg[len(m[0]):])
		}
		if code, err := strconv.Atoi(m[1]); err == nil {
			return api.Errorf(code, "%s", msg[len(m[0]):])
		}
	}
	return api.Fail(api.KindInternal, "%s", msg)
}
