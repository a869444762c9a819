package redisq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/models/tensor"
)

// DefaultGroup is the consumer group workers join unless told otherwise.
const DefaultGroup = "workers"

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	Model, Version string
	// Group is the consumer group (default DefaultGroup); every worker of
	// one deployment uses the same group, so each request runs once.
	Group string
	// Name identifies this worker in the group; it must be unique and
	// stable for the life of the process (required).
	Name string
	// MaxClaim is the most entries one Claim takes over (default 64).
	MaxClaim int
	// ReplyTTL is the EXPIRE set on the reply list with each answer
	// (default DefaultReplyTTL), so answers to a dead front expire.
	ReplyTTL time.Duration
	Logger   *slog.Logger
}

// ConsumerStats count a Consumer's work.
type ConsumerStats struct {
	Read      uint64 // jobs returned by ReadBatch
	Claimed   uint64 // jobs returned by Claim
	Expired   uint64 // entries past their deadline, deleted without running
	Malformed uint64 // entries that did not decode, deleted
	Replied   uint64 // answers written
}

// Job is one request read from the stream.
type Job struct {
	Request
	// StreamID is the stream entry's id, acknowledged by Reply.
	StreamID string
	// Claimed is set when the job was taken over from another consumer.
	Claimed bool
}

// Consumer reads one model version's stream as a member of a consumer
// group (the worker side).
type Consumer struct {
	rdb    *redis.Client
	opt    ConsumerOptions
	log    *slog.Logger
	stream string

	stats struct {
		read, claimed, expired, malformed, replied atomic.Uint64
	}
}

// NewConsumer returns a consumer of opt.Model:opt.Version's stream. The
// group is created on first use (and again if Redis lost it), so it needs
// no Redis yet.
func NewConsumer(rdb *redis.Client, opt ConsumerOptions) (*Consumer, error) {
	if opt.Model == "" || opt.Name == "" {
		return nil, errors.New("redisq: consumer needs a model and a name")
	}
	if opt.Group == "" {
		opt.Group = DefaultGroup
	}
	if opt.MaxClaim <= 0 {
		opt.MaxClaim = 64
	}
	if opt.ReplyTTL <= 0 {
		opt.ReplyTTL = DefaultReplyTTL
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{rdb: rdb, opt: opt, log: opt.Logger, stream: StreamKey(opt.Model, opt.Version)}, nil
}

// Stream returns the key of the stream this consumer reads.
func (c *Consumer) Stream() string { return c.stream }

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Read:      c.stats.read.Load(),
		Claimed:   c.stats.claimed.Load(),
		Expired:   c.stats.expired.Load(),
		Malformed: c.stats.malformed.Load(),
		Replied:   c.stats.replied.Load(),
	}
}

// ensureGroup creates the stream and group, reading from the stream's
// start so requests queued before any worker came up are served.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.stream, c.opt.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return unavailable("create consumer group", err)
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// ReadBatch returns up to max new jobs, waiting up to block for the first
// one (block ≤ 0: do not wait). It returns fewer jobs, or none, on timeout.
// Entries past their deadline or that do not decode are acknowledged and
// deleted instead of being returned.
func (c *Consumer) ReadBatch(ctx context.Context, max int, block time.Duration) ([]*Job, error) {
	if max <= 0 {
		max = 1
	}
	switch {
	case block <= 0:
		block = -1 // no BLOCK argument (BLOCK 0 would wait forever)
	case block < time.Millisecond:
		block = time.Millisecond
	}
	args := &redis.XReadGroupArgs{
		Group:    c.opt.Group,
		Consumer: c.opt.Name,
		Streams:  []string{c.stream, ">"},
		Count:    int64(max),
		Block:    block,
	}
	streams, err := c.rdb.XReadGroup(ctx, args).Result()
	if isNoGroup(err) {
		if err := c.ensureGroup(ctx); err != nil {
			return nil, err
		}
		streams, err = c.rdb.XReadGroup(ctx, args).Result()
	}
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %s: %w", c.stream, ctx.Err())
		}
		return nil, unavailable("read "+c.stream, err)
	}
	var msgs []redis.XMessage
	for _, s := range streams {
		msgs = append(msgs, s.Messages...)
	}
	jobs := c.jobs(ctx, msgs, false)
	c.stats.read.Add(uint64(len(jobs)))
	return jobs, nil
}

// Claim takes over up to MaxClaim entries that other consumers of the group
// read but left unacknowledged for at least minIdle (their worker is
// presumed dead) and returns them as jobs to run and Reply to. Set minIdle
// above the longest batch, or live workers' jobs run twice (the front still
// answers only once).
func (c *Consumer) Claim(ctx context.Context, minIdle time.Duration) ([]*Job, error) {
	var msgs []redis.XMessage
	start := "0-0"
	for len(msgs) < c.opt.MaxClaim {
		got, next, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   c.stream,
			Group:    c.opt.Group,
			Consumer: c.opt.Name,
			MinIdle:  minIdle,
			Start:    start,
			Count:    int64(c.opt.MaxClaim - len(msgs)),
		}).Result()
		if isNoGroup(err) {
			return nil, c.ensureGroup(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("claim %s: %w", c.stream, ctx.Err())
			}
			return nil, unavailable("claim "+c.stream, err)
		}
		msgs = append(msgs, got...)
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	jobs := c.jobs(ctx, msgs, true)
	c.stats.claimed.Add(uint64(len(jobs)))
	return jobs, nil
}

// jobs decodes msgs, dropping (ack+del) entries that are malformed or past
// their deadline.
func (c *Consumer) jobs(ctx context.Context, msgs []redis.XMessage, claimed bool) []*Job {
	jobs := make([]*Job, 0, len(msgs))
	var drop []string
	now := time.Now()
	for _, m := range msgs {
		raw, _ := m.Values[jobField].(string)
		req, err := DecodeRequest([]byte(raw))
		if err != nil {
			c.stats.malformed.Add(1)
			c.log.Warn("redisq: dropping malformed entry", "stream", c.stream, "id", m.ID, "err", err)
			drop = append(drop, m.ID)
			continue
		}
		if !req.Deadline.IsZero() && !now.Before(req.Deadline) {
			c.stats.expired.Add(1)
			drop = append(drop, m.ID)
			continue
		}
		jobs = append(jobs, &Job{Request: *req, StreamID: m.ID, Claimed: claimed})
	}
	if len(drop) > 0 {
		// On failure the entries stay pending; a later Claim drops them.
		if err := c.ackDel(ctx, drop...); err != nil {
			c.log.Warn("redisq: dropping entries", "stream", c.stream, "err", err)
		}
	}
	return jobs
}

func (c *Consumer) ackDel(ctx context.Context, ids ...string) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, c.stream, c.opt.Group, ids...)
		p.XDel(ctx, c.stream, ids...)
		return nil
	})
	if err != nil {
		return unavailable("ack "+c.stream, err)
	}
	return nil
}

// Reply answers job with outputs, or with runErr's message when runErr is
// not nil, then acknowledges and deletes its entry — in one MULTI, so the
// entry stays pending (and claimable) unless the answer was written.
func (c *Consumer) Reply(ctx context.Context, job *Job, outputs []tensor.Tensor, runErr error) error {
	r := &Reply{ID: job.ID, Outputs: outputs}
	if runErr != nil {
		r.Err, r.Outputs = runErr.Error(), nil
	}
	payload, err := EncodeReply(r)
	if err != nil {
		// Outputs the model produced but we cannot encode: answer with the
		// reason rather than leave the front waiting.
		payload, err = EncodeReply(&Reply{ID: job.ID, Err: "encode outputs: " + err.Error()})
		if err != nil {
			return err
		}
	}
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, job.ReplyKey, payload)
		p.Expire(ctx, job.ReplyKey, c.opt.ReplyTTL)
		p.XAck(ctx, c.stream, c.opt.Group, job.StreamID)
		p.XDel(ctx, c.stream, job.StreamID)
		return nil
	})
	if err != nil {
		return unavailable("reply to "+job.ID, err)
	}
	c.stats.replied.Add(1)
	return nil
}
