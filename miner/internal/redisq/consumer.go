package redisq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// StuckAfter is how long an entry may stay pending with a worker that
	// still announces itself before Claim takes it over (default 2 min).
	StuckAfter time.Duration
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
	// Writes counts the round trips that wrote answers: one MULTI each,
	// however many answers it carried.
	Writes uint64
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

	replies *coalescer[*pendingReply]

	stats struct {
		read, claimed, expired, malformed, replied, writes atomic.Uint64
	}
}

// pendingReply is one answer waiting to be written.
type pendingReply struct {
	op
	job     *Job
	payload []byte
}

func (r *pendingReply) base() *op { return &r.op }

// replyPool recycles the pendingReplies (and their channels) of settled
// writes.
var replyPool sync.Pool

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
	if opt.StuckAfter <= 0 {
		opt.StuckAfter = 2 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{rdb: rdb, opt: opt, log: opt.Logger, stream: StreamKey(opt.Model, opt.Version)}
	// Answers are written under their callers' contexts (checked before
	// each write); a write itself is bounded by the client's timeouts.
	c.replies = &coalescer[*pendingReply]{ctx: context.Background(), write: c.writeReplies}
	return c, nil
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
		Writes:    c.stats.writes.Load(),
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

// Claim takes over up to MaxClaim entries other consumers of the group
// read but left unacknowledged for at least minIdle while their worker has
// no live announcement (it died or was cut off), and returns them as jobs
// to run and Reply to. Entries of a worker that still announces itself are
// taken only once idle for StuckAfter (it is alive but stuck); this
// consumer's own entries never are. The front answers only the first reply
// for a request, so a worker presumed dead that answers after all costs
// compute, not correctness.
func (c *Consumer) Claim(ctx context.Context, minIdle time.Duration) ([]*Job, error) {
	pend, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: c.stream, Group: c.opt.Group, Idle: minIdle, Start: "-", End: "+", Count: int64(4 * c.opt.MaxClaim),
	}).Result()
	if isNoGroup(err) {
		return nil, c.ensureGroup(ctx)
	}
	if err != nil {
		return nil, c.fail(ctx, "claim", err)
	}
	live, err := c.liveOwners(ctx, pend)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range pend {
		if p.Consumer == c.opt.Name || (live[p.Consumer] && p.Idle < c.opt.StuckAfter) {
			continue
		}
		ids = append(ids, p.ID)
		if len(ids) == c.opt.MaxClaim {
			break
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// XCLAIM re-checks the idle time, so an entry another worker claimed
	// or its owner acknowledged meanwhile is skipped.
	msgs, err := c.rdb.XClaim(ctx, &redis.XClaimArgs{
		Stream: c.stream, Group: c.opt.Group, Consumer: c.opt.Name, MinIdle: minIdle, Messages: ids,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, c.fail(ctx, "claim", err)
	}
	// Entries deleted meanwhile come back without values: drop them.
	msgs = slices.DeleteFunc(msgs, func(m redis.XMessage) bool { return m.Values == nil })
	jobs := c.jobs(ctx, msgs, true)
	c.stats.claimed.Add(uint64(len(jobs)))
	return jobs, nil
}

// liveOwners reports which owners of pend other than this consumer still
// have a worker announcement.
func (c *Consumer) liveOwners(ctx context.Context, pend []redis.XPendingExt) (map[string]bool, error) {
	var owners []string
	for _, p := range pend {
		if p.Consumer != c.opt.Name && !slices.Contains(owners, p.Consumer) {
			owners = append(owners, p.Consumer)
		}
	}
	live := make(map[string]bool, len(owners))
	if len(owners) == 0 {
		return live, nil
	}
	cmds := make([]*redis.IntCmd, len(owners))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, o := range owners {
			cmds[i] = p.Exists(ctx, WorkerKey(o))
		}
		return nil
	})
	if err != nil {
		return nil, c.fail(ctx, "claim", err)
	}
	for i, o := range owners {
		live[o] = cmds[i].Val() > 0
	}
	return live, nil
}

func (c *Consumer) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, c.stream, ctx.Err())
	}
	return unavailable(op+" "+c.stream, err)
}

// jobs decodes msgs, dropping (ack+del) entries that are malformed or past
// their deadline.
func (c *Consumer) jobs(ctx context.Context, msgs []redis.XMessage, claimed bool) []*Job {
	jobs := make([]*Job, 0, len(msgs))
	var drop []string
	now := time.Now()
	for _, m := range msgs {
		raw, _ := m.Values[jobField].(string)
		// The decoded tensors alias the payload, which this message alone
		// owns and nothing writes to: view the string's bytes instead of
		// copying ~100 KB per request.
		req, err := DecodeRequest(unsafe.Slice(unsafe.StringData(raw), len(raw)))
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
// Answers given while another's MULTI is in flight go out together in the
// next one. An answer whose ctx ends before it is written is not written
// (its entry stays pending) and Reply returns the context's error.
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
	pr, _ := replyPool.Get().(*pendingReply)
	if pr == nil {
		pr = &pendingReply{}
	}
	pr.init(ctx)
	pr.job, pr.payload = job, payload
	err = c.replies.do(pr)
	if pr.reusable() {
		*pr = pendingReply{op: op{done: pr.done}}
		replyPool.Put(pr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reply to %s: %w", job.ID, ctx.Err())
		}
		return unavailable("reply to "+job.ID, err)
	}
	return nil
}

// writeReplies writes batch in one MULTI: per reply list one RPUSH of its
// answers and its EXPIRE, then one XACK and one XDEL of all the entries.
// Each answer is settled with its RPUSH's outcome, or the MULTI's when it
// failed as a whole.
func (c *Consumer) writeReplies(ctx context.Context, batch []*pendingReply) {
	if len(batch) == 1 { // alone: the commands without the grouping
		r := batch[0]
		_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, r.job.ReplyKey, r.payload)
			p.Expire(ctx, r.job.ReplyKey, c.opt.ReplyTTL)
			p.XAck(ctx, c.stream, c.opt.Group, r.job.StreamID)
			p.XDel(ctx, c.stream, r.job.StreamID)
			return nil
		})
		c.stats.writes.Add(1)
		if err == nil {
			c.stats.replied.Add(1)
		}
		r.settle(err)
		return
	}
	ids := make([]string, len(batch))
	keys := make([]string, 0, 1)
	for i, r := range batch {
		ids[i] = r.job.StreamID
		if !slices.Contains(keys, r.job.ReplyKey) {
			keys = append(keys, r.job.ReplyKey)
		}
	}
	pushes := make([]*redis.IntCmd, len(keys))
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, key := range keys {
			vals := make([]any, 0, len(batch))
			for _, r := range batch {
				if r.job.ReplyKey == key {
					vals = append(vals, r.payload)
				}
			}
			pushes[k] = p.RPush(ctx, key, vals...)
			p.Expire(ctx, key, c.opt.ReplyTTL)
		}
		p.XAck(ctx, c.stream, c.opt.Group, ids...)
		p.XDel(ctx, c.stream, ids...)
		return nil
	})
	c.stats.writes.Add(1)
	for _, r := range batch {
		push := pushes[slices.Index(keys, r.job.ReplyKey)]
		perr := push.Err()
		if perr == nil && push.Val() == 0 && err != nil {
			perr = err // not run: the MULTI failed as a whole
		}
		if perr == nil {
			c.stats.replied.Add(1)
		}
		r.settle(perr)
	}
}

// Undelivered returns, for each stream, how many of its entries no worker
// of the default group has read yet: its length minus the group's pending
// entries (answered entries are deleted, so the rest wait). A stream or
// group that does not exist counts 0.
func Undelivered(ctx context.Context, rdb *redis.Client, streams ...string) ([]int64, error) {
	lens := make([]*redis.IntCmd, len(streams))
	pend := make([]*redis.XPendingCmd, len(streams))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range streams {
			lens[i] = p.XLen(ctx, s)
			pend[i] = p.XPending(ctx, s, DefaultGroup)
		}
		return nil
	})
	if err != nil && !isNoGroup(err) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("queue backlog: %w", ctx.Err())
		}
		// A pipeline reports its first command error; only a
		// connection failure fails every command.
		if lens[0].Err() != nil && !errors.Is(lens[0].Err(), redis.Nil) {
			return nil, unavailable("queue backlog", err)
		}
	}
	out := make([]int64, len(streams))
	for i := range streams {
		n := lens[i].Val()
		if pend[i].Err() == nil {
			n -= pend[i].Val().Count
		}
		out[i] = max(n, 0)
	}
	return out, nil
}

// Prune removes from the group the consumers of workers that are gone:
// other than this one, with nothing pending, idle for at least idle, and
// without a live announcement. Workers get a new id per process, so without
// it the group would list every worker that ever ran. It returns how many
// it removed.
func (c *Consumer) Prune(ctx context.Context, idle time.Duration) (int, error) {
	infos, err := c.rdb.XInfoConsumers(ctx, c.stream, c.opt.Group).Result()
	if isNoGroup(err) || errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, c.fail(ctx, "prune", err)
	}
	var gone []string
	for _, ci := range infos {
		if ci.Name != c.opt.Name && ci.Pending == 0 && ci.Idle >= idle {
			gone = append(gone, ci.Name)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	live := make([]*redis.IntCmd, len(gone))
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, g := range gone {
			live[i] = p.Exists(ctx, WorkerKey(g))
		}
		return nil
	})
	if err != nil {
		return 0, c.fail(ctx, "prune", err)
	}
	n := 0
	for i, g := range gone {
		if live[i].Val() > 0 {
			continue
		}
		if err := c.rdb.XGroupDelConsumer(ctx, c.stream, c.opt.Group, g).Err(); err != nil {
			return n, c.fail(ctx, "prune", err)
		}
		n++
	}
	return n, nil
}
