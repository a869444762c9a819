package redisq_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/tensor"
)

// gate is a client hook that holds the first write (a command or a
// pipeline) that includes cmd (xadd: the producer's requests; rpush: a
// consumer's answers) until open is closed, and records in order how many
// items each such write carries (XADDs, or values RPUSHed).
type gate struct {
	cmd     string
	held    chan struct{} // closed once the first pipeline is held
	open    chan struct{}
	mu      sync.Mutex
	sizes   []int
	holding bool
}

func newGate(rdb *redis.Client, cmd string) *gate {
	g := &gate{cmd: cmd, held: make(chan struct{}), open: make(chan struct{})}
	rdb.AddHook(g)
	return g
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.pass([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.pass(cmds)
		return next(ctx, cmds)
	}
}

// pass records a write of cmds that carries items, and holds the first.
func (g *gate) pass(cmds []redis.Cmder) {
	n := 0
	for _, c := range cmds {
		switch {
		case c.Name() == g.cmd && g.cmd == "rpush":
			n += len(c.Args()) - 2
		case c.Name() == g.cmd:
			n++
		}
	}
	if n == 0 {
		return
	}
	g.mu.Lock()
	g.sizes = append(g.sizes, n)
	first := !g.holding
	g.holding = true
	g.mu.Unlock()
	if first {
		close(g.held)
		<-g.open
	}
}

func (g *gate) Sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

// TestSubmitsCoalesce: requests submitted while an XADD is in flight go out
// together in the next pipeline, each answered with its own outputs; an
// entry Redis refuses fails its own caller only, with ErrUnavailable; a
// caller whose context ends while queued is not sent.
func TestSubmitsCoalesce(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	g := newGate(rdb, "xadd")
	p := newProducer(t, rdb)
	c := newConsumer(t, newClient(t, addr), "w1")
	ctx, stop := context.WithCancel(context.Background())
	_, done := serve(ctx, t, c, 64, 0)
	defer func() { stop(); <-done }()

	// A stream key holding a string: XADD to it fails with WRONGTYPE.
	if err := rdb.Set(ctx, redisq.StreamKey("broken", "1"), "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}

	const n = 10 // after the first: n good, one broken, one withdrawn
	first := make(chan error, 1)
	go func() { first <- submitDouble(ctx, p, 100) }()
	<-g.held // the first request's XADD is on its way, held

	good := make(chan error, n)
	for i := range n {
		go func() { good <- submitDouble(ctx, p, float32(i)) }()
	}
	broken := make(chan error, 1)
	go func() {
		_, err := p.Submit(ctx, "broken", "1", []tensor.Tensor{fp32("x", 1)}, 0)
		broken <- err
	}()
	wctx, withdraw := context.WithCancel(ctx)
	withdrawn := make(chan error, 1)
	go func() { withdrawn <- submitDouble(wctx, p, -5) }()
	waitFor(t, func() bool { return redisq.QueuedAdds(p) == n+2 })
	withdraw()
	if err := <-withdrawn; !errors.Is(err, context.Canceled) {
		t.Errorf("withdrawn Submit: %v, want context.Canceled", err)
	}

	close(g.open)
	if err := <-first; err != nil {
		t.Errorf("first Submit: %v", err)
	}
	for range n {
		if err := <-good; err != nil {
			t.Error(err)
		}
	}
	if err := <-broken; !errors.Is(err, redisq.ErrUnavailable) || !strings.Contains(fmt.Sprint(err), "WRONGTYPE") {
		t.Errorf("Submit to a broken stream: %v, want ErrUnavailable with WRONGTYPE", err)
	}
	// One XADD for the first request, then one pipeline of the rest that
	// were queued: the good ones and the broken one, not the withdrawn one.
	if diff := cmp.Diff([]int{1, n + 1}, g.Sizes()); diff != "" {
		t.Errorf("XADDs per pipeline (-want +got):\n%s", diff)
	}
	st := p.Stats()
	if st.Submitted != n+1 || st.Answered != n+1 || st.Writes != 2 || st.Dropped != 0 {
		t.Errorf("producer stats %+v, want %d submitted and answered in 2 writes", st, n+1)
	}
	if read := c.Stats().Read; read != n+1 {
		t.Errorf("worker read %d jobs, want %d (the withdrawn request must not be sent)", read, n+1)
	}
}

// TestConcurrentSubmitsAnswered: many callers at once, each answered with
// its own outputs (ids matched through coalesced writes and drained reply
// pops), nothing dropped, nothing left in the stream; against a Redis
// without BLMPOP (before 7.0) too, whose replies are popped one per BLPOP.
func TestConcurrentSubmitsAnswered(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string // redis-server's
		oneByOne   bool     // one reply per read
		concurrent int
	}{
		{name: "BLMPOP", concurrent: 300},
		{name: "no BLMPOP", args: []string{"--rename-command", "BLMPOP", ""}, oneByOne: true, concurrent: 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := redistest.StartWithArgs(t, tc.args...).Addr
			rdb := newClient(t, addr)
			err := rdb.Do(context.Background(), "blmpop", "0.01", 1, "k", "left").Err()
			if has := err == nil || errors.Is(err, redis.Nil); has == tc.oneByOne {
				t.Fatalf("BLMPOP answers %v", err)
			}
			p := newProducer(t, rdb)
			c := newConsumer(t, newClient(t, addr), "w1")
			ctx, stop := context.WithCancel(context.Background())
			_, done := serve(ctx, t, c, 16, 0)
			defer func() { stop(); <-done }()

			n := uint64(tc.concurrent)
			var wg sync.WaitGroup
			for i := range tc.concurrent {
				wg.Go(func() {
					if err := submitDouble(ctx, p, float32(i)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			st := p.Stats()
			if st.Submitted != n || st.Answered != n || st.Dropped != 0 || st.Malformed != 0 || st.Failed != 0 {
				t.Errorf("producer stats %+v, want %d submitted and answered", st, n)
			}
			if st.Writes == 0 || st.Writes > n || st.Reads == 0 || st.Reads > n || (tc.oneByOne && st.Reads != n) {
				t.Errorf("producer stats %+v: writes and reads must be between 1 and %d (reads %d without BLMPOP)", st, n, n)
			}
			if l := rdb.XLen(ctx, c.Stream()).Val(); l != 0 {
				t.Errorf("stream holds %d entries", l)
			}
		})
	}
}

// TestOutageFailsQueuedSubmits: Redis going away while a pipeline is on its
// way and more requests wait for the next fails every caller with
// ErrUnavailable.
func TestOutageFailsQueuedSubmits(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := newClient(t, srv.Addr)
	g := newGate(rdb, "xadd")
	p := newProducer(t, rdb)
	ctx := context.Background()

	const n = 5
	errs := make(chan error, n+1)
	go func() { errs <- submitDouble(ctx, p, 1) }()
	<-g.held
	for i := range n {
		go func() { errs <- submitDouble(ctx, p, float32(i)) }()
	}
	waitFor(t, func() bool { return redisq.QueuedAdds(p) == n })
	srv.Stop()
	close(g.open)
	for range n + 1 {
		if err := <-errs; !errors.Is(err, redisq.ErrUnavailable) {
			t.Errorf("Submit: %v, want ErrUnavailable", err)
		}
	}
	if st := p.Stats(); st.Submitted != 0 {
		t.Errorf("producer stats %+v, want nothing submitted", st)
	}
}

// TestDrainedRepliesDropped: one pop takes every reply on the list; those
// for ids nobody waits for are counted as dropped, one that does not decode
// as malformed, and the waiting caller gets its own.
func TestDrainedRepliesDropped(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	p := newProducer(t, rdb)
	c := newConsumer(t, newClient(t, addr), "w1")
	ctx := context.Background()

	got := make(chan error, 1)
	go func() { got <- submitDouble(ctx, p, 3) }()
	waitFor(t, func() bool { return rdb.XLen(ctx, c.Stream()).Val() == 1 })
	jobs, err := c.ReadBatch(ctx, 1, 0)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("ReadBatch: %d jobs, %v", len(jobs), err)
	}
	const unknown = 20
	var vals []any
	for i := range unknown {
		b, err := redisq.EncodeReply(&redisq.Reply{ID: fmt.Sprintf("%s-nobody-%d", p.FrontID(), i)})
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, b)
	}
	vals = append(vals, "garbage")
	out, _ := double(jobs[0].Inputs)
	b, err := redisq.EncodeReply(&redisq.Reply{ID: jobs[0].ID, Outputs: out})
	if err != nil {
		t.Fatal(err)
	}
	reads := p.Stats().Reads
	// One RPUSH: the list holds all of them at once.
	if err := rdb.RPush(ctx, redisq.ReplyKey(p.FrontID()), append(vals, b)...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return p.Stats().Dropped == unknown })
	st := p.Stats()
	if st.Answered != 1 || st.Malformed != 1 || st.Reads != reads+1 {
		t.Errorf("producer stats %+v, want 1 answered, 1 malformed, all in one read", st)
	}
}

// TestRepliesCoalesce: answers given while another's MULTI is in flight go
// out together in the next one, each reaching its own caller; an answer
// whose context ends while queued is not written and its entry stays
// pending.
func TestRepliesCoalesce(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	p := newProducer(t, rdb)
	crdb := newClient(t, addr)
	g := newGate(crdb, "rpush")
	c := newConsumer(t, crdb, "w1")
	ctx := context.Background()

	const n = 6
	answers := make(chan error, n)
	for i := range n {
		go func() { answers <- submitDouble(ctx, p, float32(i)) }()
	}
	waitFor(t, func() bool { return rdb.XLen(ctx, c.Stream()).Val() == n })
	jobs, err := c.ReadBatch(ctx, n, 0)
	if err != nil || len(jobs) != n {
		t.Fatalf("ReadBatch: %d jobs, %v", len(jobs), err)
	}
	reply := func(ctx context.Context, j *redisq.Job) error {
		out, err := double(j.Inputs)
		return c.Reply(ctx, j, out, err)
	}
	replied := make(chan error, n)
	go func() { replied <- reply(ctx, jobs[0]) }()
	<-g.held
	for _, j := range jobs[1 : n-1] {
		go func() { replied <- reply(ctx, j) }()
	}
	wctx, withdraw := context.WithCancel(ctx)
	withdrawn := make(chan error, 1)
	go func() { withdrawn <- reply(wctx, jobs[n-1]) }()
	waitFor(t, func() bool { return redisq.QueuedReplies(c) == n-1 })
	withdraw()
	if err := <-withdrawn; !errors.Is(err, context.Canceled) {
		t.Errorf("withdrawn Reply: %v, want context.Canceled", err)
	}
	close(g.open)
	for range n - 1 {
		if err := <-replied; err != nil {
			t.Errorf("Reply: %v", err)
		}
	}
	for range n - 1 {
		if err := <-answers; err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff([]int{1, n - 2}, g.Sizes()); diff != "" {
		t.Errorf("answers per MULTI (-want +got):\n%s", diff)
	}
	if st := c.Stats(); st.Replied != n-1 || st.Writes != 2 {
		t.Errorf("consumer stats %+v, want %d replied in 2 writes", st, n-1)
	}
	// The withdrawn answer's entry is still there, pending, for a claim.
	if pend := rdb.XPending(ctx, c.Stream(), redisq.DefaultGroup).Val(); pend.Count != 1 {
		t.Errorf("%d entries pending, want 1", pend.Count)
	}
	if err := reply(ctx, jobs[n-1]); err != nil {
		t.Fatal(err)
	}
	if err := <-answers; err != nil {
		t.Error(err)
	}
}
