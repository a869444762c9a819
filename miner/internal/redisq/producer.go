package redisq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/models/tensor"
)

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	// FrontID names this front's reply list; default a random id. Two live
	// fronts must not share one.
	FrontID string
	// DefaultTimeout is the deadline of requests whose context has none
	// (default DefaultTimeout).
	DefaultTimeout time.Duration
	// Poll is the blocking pop timeout of the reply loop, rounded up to
	// whole seconds (default 1 s). It only bounds how often an idle loop
	// wakes.
	Poll time.Duration
	// ReplyTTL is the EXPIRE the front sets on its own reply list while it
	// listens (default DefaultReplyTTL).
	ReplyTTL time.Duration
	Logger   *slog.Logger
}

// ProducerStats count a Producer's requests and replies.
type ProducerStats struct {
	Submitted uint64 // requests added to a stream
	Answered  uint64 // replies handed to a waiting caller
	Dropped   uint64 // replies for no waiting caller: duplicates, late or unknown
	Malformed uint64 // reply payloads that did not decode
	Failed    uint64 // waiting callers failed because the reply loop lost Redis
	// Writes counts the round trips that added requests: one pipeline of
	// XADDs each, however many requests it carried.
	Writes uint64
	// Reads counts the reply loop's pops that returned replies: one round
	// trip each, however many replies it carried.
	Reads uint64
}

// Producer submits requests and waits for their replies (the front side).
type Producer struct {
	rdb      *redis.Client
	opt      ProducerOptions
	log      *slog.Logger
	replyKey string
	seq      atomic.Uint64

	mu      sync.Mutex
	waiting map[string]chan result // guarded by mu: request id → its caller
	closed  bool                   // guarded by mu

	adds *coalescer[*pendingAdd]

	streamsMu sync.RWMutex
	streams   map[[2]string]string // guarded by streamsMu: model, version → StreamKey
	// noBLMPop is set once Redis answered BLMPOP as an unknown command
	// (before 7.0): the reply loop then pops one reply per BLPOP.
	noBLMPop bool

	stats struct {
		submitted, answered, dropped, malformed, failed, writes, reads atomic.Uint64
	}

	cancel context.CancelFunc
	done   chan struct{}
}

// replyBatch is the most replies one pop of the reply loop takes.
const replyBatch = 128

// pendingAdd is one request waiting for its XADD.
type pendingAdd struct {
	op
	stream  string
	payload []byte
}

func (a *pendingAdd) base() *op { return &a.op }

// addPool recycles the pendingAdds (and their channels) of settled writes.
var addPool sync.Pool

// NewProducer starts a producer on rdb and its reply loop. Close stops it;
// rdb stays open and belongs to the caller.
func NewProducer(rdb *redis.Client, opt ProducerOptions) *Producer {
	if opt.FrontID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opt.FrontID = hex.EncodeToString(b[:])
	}
	if opt.DefaultTimeout <= 0 {
		opt.DefaultTimeout = DefaultTimeout
	}
	if opt.Poll < time.Second {
		opt.Poll = time.Second
	}
	if opt.ReplyTTL <= 0 {
		opt.ReplyTTL = DefaultReplyTTL
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		rdb:      rdb,
		opt:      opt,
		log:      opt.Logger,
		replyKey: ReplyKey(opt.FrontID),
		waiting:  make(map[string]chan result),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	p.adds = &coalescer[*pendingAdd]{ctx: ctx, write: p.writeAdds}
	go p.loop(ctx)
	return p
}

// FrontID returns the id naming this producer's reply list.
func (p *Producer) FrontID() string { return p.opt.FrontID }

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{
		Submitted: p.stats.submitted.Load(),
		Answered:  p.stats.answered.Load(),
		Dropped:   p.stats.dropped.Load(),
		Malformed: p.stats.malformed.Load(),
		Failed:    p.stats.failed.Load(),
		Writes:    p.stats.writes.Load(),
		Reads:     p.stats.reads.Load(),
	}
}

// Submit queues one request for model version and waits for its outputs.
// The request's deadline is ctx's, or DefaultTimeout from now; no worker
// runs it after that. Requests submitted while another's XADD is in flight
// go out together in the next pipeline; one whose ctx ends before then is
// not sent. Errors: ErrUnavailable (wrapped) when Redis cannot be reached,
// refused the XADD, or the reply loop lost it while waiting; *RemoteError
// for a failure the worker reported; a context error when ctx ends or the
// deadline passes first; ErrClosed after Close.
func (p *Producer) Submit(ctx context.Context, model, version string, inputs []tensor.Tensor, priority float64) ([]tensor.Tensor, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(p.opt.DefaultTimeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	req := &Request{
		ID:       p.opt.FrontID + "-" + strconv.FormatUint(p.seq.Add(1), 36),
		Model:    model,
		Version:  version,
		Deadline: deadline,
		Priority: priority,
		ReplyKey: p.replyKey,
		Inputs:   inputs,
	}
	payload, err := EncodeRequest(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}

	ch := make(chan result, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.waiting[req.ID] = ch
	p.mu.Unlock()
	defer p.forget(req.ID)

	add, _ := addPool.Get().(*pendingAdd)
	if add == nil {
		add = &pendingAdd{}
	}
	add.init(ctx)
	add.stream, add.payload = p.streamKey(model, version), payload
	err = p.adds.do(add)
	if add.reusable() {
		*add = pendingAdd{op: op{done: add.done}}
		addPool.Put(add)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("queue request: %w", ctx.Err())
		case errors.Is(err, ErrClosed):
			return nil, ErrClosed
		}
		return nil, unavailable("queue request", err)
	}

	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		if r.reply.Err != "" {
			return nil, &RemoteError{Msg: r.reply.Err}
		}
		return r.reply.Outputs, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for %s:%s: %w", model, version, ctx.Err())
	}
}

// maxStreamKeys bounds the stream keys a Producer remembers.
const maxStreamKeys = 1024

// streamKey is StreamKey, remembered (a request then allocates no key).
func (p *Producer) streamKey(model, version string) string {
	k := [2]string{model, version}
	p.streamsMu.RLock()
	key, ok := p.streams[k]
	p.streamsMu.RUnlock()
	if ok {
		return key
	}
	key = StreamKey(model, version)
	p.streamsMu.Lock()
	if p.streams == nil {
		p.streams = make(map[[2]string]string)
	}
	if len(p.streams) < maxStreamKeys {
		p.streams[k] = key
	}
	p.streamsMu.Unlock()
	return key
}

// writeAdds XADDs batch in one pipeline and settles each request with its
// own command's outcome.
func (p *Producer) writeAdds(ctx context.Context, batch []*pendingAdd) {
	if ctx.Err() != nil { // closed
		for _, a := range batch {
			a.settle(ErrClosed)
		}
		return
	}
	if len(batch) == 1 { // alone: no pipeline to build
		a := batch[0]
		err := p.rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.stream, Values: []any{jobField, a.payload}}).Err()
		p.stats.writes.Add(1)
		if err == nil {
			p.stats.submitted.Add(1)
		}
		a.settle(err)
		return
	}
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(batch))
	for i, a := range batch {
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: a.stream, Values: []any{jobField, a.payload}})
	}
	_, err := pipe.Exec(ctx)
	p.stats.writes.Add(1)
	for i, a := range batch {
		cerr := cmds[i].Err()
		if cerr == nil && err != nil && cmds[i].Val() == "" {
			cerr = err // not run: the pipeline failed as a whole
		}
		if cerr == nil {
			p.stats.submitted.Add(1)
		}
		a.settle(cerr)
	}
}

// result is what a waiting caller receives: a reply or a local error.
type result struct {
	reply *Reply
	err   error
}

func (p *Producer) forget(id string) {
	p.mu.Lock()
	delete(p.waiting, id)
	p.mu.Unlock()
}

// deliver hands r to the caller waiting for its id, at most once.
func (p *Producer) deliver(r *Reply) {
	p.mu.Lock()
	ch, ok := p.waiting[r.ID]
	delete(p.waiting, r.ID)
	p.mu.Unlock()
	if !ok {
		p.stats.dropped.Add(1)
		return
	}
	p.stats.answered.Add(1)
	ch <- result{reply: r} // buffered, and removed from the map: never blocks
}

// failAll answers every waiting caller with err.
func (p *Producer) failAll(err error) {
	p.mu.Lock()
	waiting := p.waiting
	p.waiting = make(map[string]chan result)
	p.mu.Unlock()
	for _, ch := range waiting {
		p.stats.failed.Add(1)
		ch <- result{err: err}
	}
}

// loop is the one reader of the reply list: each BLMPOP takes every reply
// there is (up to replyBatch), waiting up to Poll for the first. When Redis
// fails it fails the callers waiting at that moment (their requests are
// likely lost with it) and retries with a growing pause until Redis answers
// again.
func (p *Producer) loop(ctx context.Context) {
	defer close(p.done)
	backoff := 50 * time.Millisecond
	lastExpire := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastExpire) > p.opt.ReplyTTL/3 {
			// Keep our own list alive while we listen; workers set the same
			// TTL on each write, so it lapses once we are gone.
			if err := p.rdb.Expire(ctx, p.replyKey, p.opt.ReplyTTL).Err(); err == nil {
				lastExpire = time.Now()
			}
		}
		res, err := p.pop(ctx)
		switch {
		case errors.Is(err, redis.Nil):
			backoff = 50 * time.Millisecond
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("redisq: reply loop", "err", err)
			p.failAll(unavailable("wait for reply", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		p.stats.reads.Add(1)
		for _, raw := range res {
			if raw == "" { // Close's wake-up
				continue
			}
			r, err := DecodeReply([]byte(raw))
			if err != nil {
				p.stats.malformed.Add(1)
				p.log.Warn("redisq: dropping reply", "err", err)
				continue
			}
			p.deliver(r)
		}
	}
}

// pop waits up to Poll for replies and returns all there are, up to
// replyBatch, in one round trip (BLMPOP); against a Redis before 7.0 it
// falls back to one BLPOP per reply. It returns redis.Nil on timeout.
func (p *Producer) pop(ctx context.Context) ([]string, error) {
	if !p.noBLMPop {
		_, vals, err := p.rdb.BLMPop(ctx, p.opt.Poll, "left", replyBatch, p.replyKey).Result()
		if err == nil || !isUnknownCommand(err) {
			return vals, err
		}
		p.noBLMPop = true
		p.log.Info("redisq: Redis has no BLMPOP (before 7.0); popping one reply per round trip", "err", err)
	}
	res, err := p.rdb.BLPop(ctx, p.opt.Poll, p.replyKey).Result()
	if err != nil {
		return nil, err
	}
	if len(res) != 2 {
		return nil, nil
	}
	return res[1:], nil
}

func isUnknownCommand(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR unknown command")
}

// Close stops the reply loop and fails the callers still waiting with
// ErrClosed. It does not close the Redis client.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	// Wake the loop out of its BLPOP (go-redis does not abort a blocking
	// read on cancellation); if Redis is down the BLPOP fails on its own.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = p.rdb.RPush(ctx, p.replyKey, "").Err()
	cancel()
	<-p.done
	p.failAll(ErrClosed)
	return nil
}
