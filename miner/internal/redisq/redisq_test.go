package redisq_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/tensor"
)

func TestMain(m *testing.M) {
	// goleak's end-of-run check stalls the fuzzing engine's workers; it
	// guards the Redis tests, which do not run while fuzzing.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb, err := redisq.NewClient("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func newProducer(t *testing.T, rdb *redis.Client) *redisq.Producer {
	t.Helper()
	p := redisq.NewProducer(rdb, redisq.ProducerOptions{})
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newConsumer(t *testing.T, rdb *redis.Client, name string) *redisq.Consumer {
	t.Helper()
	c, err := redisq.NewConsumer(rdb, redisq.ConsumerOptions{Model: "double", Version: "1", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fp32(name string, vals ...float32) tensor.Tensor {
	t := tensor.Tensor{Name: name, DataType: tensor.FP32, Shape: []int64{1, int64(len(vals))}}
	for _, v := range vals {
		t.Data = binary.LittleEndian.AppendUint32(t.Data, math.Float32bits(v))
	}
	return t
}

func floats(t tensor.Tensor) []float32 {
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out
}

// double is the fake model: y = 2x for an FP32 input "x"; a first value
// of -1 makes it fail.
func double(in []tensor.Tensor) ([]tensor.Tensor, error) {
	x := floats(in[0])
	if len(x) > 0 && x[0] == -1 {
		return nil, errors.New("double: refusing -1")
	}
	for i := range x {
		x[i] *= 2
	}
	return []tensor.Tensor{fp32("y", x...)}, nil
}

// serve runs c as a worker until ctx ends: read up to max jobs, run each
// through double after work, reply. It returns the size of every batch read.
func serve(ctx context.Context, t *testing.T, c *redisq.Consumer, max int, work time.Duration) (batches chan int, done chan struct{}) {
	batches, done = make(chan int, 1000), make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			jobs, err := c.ReadBatch(ctx, max, 50*time.Millisecond)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("ReadBatch: %v", err)
				}
				return
			}
			if len(jobs) == 0 {
				continue
			}
			batches <- len(jobs)
			time.Sleep(work)
			for _, j := range jobs {
				out, err := double(j.Inputs)
				if err := c.Reply(ctx, j, out, err); err != nil {
					t.Errorf("Reply: %v", err)
				}
			}
		}
	}()
	return batches, done
}

func submitDouble(ctx context.Context, p *redisq.Producer, v float32) error {
	out, err := p.Submit(ctx, "double", "1", []tensor.Tensor{fp32("x", v, v+1)}, 0)
	if err != nil {
		return err
	}
	if len(out) != 1 || out[0].Name != "y" {
		return fmt.Errorf("outputs %+v", out)
	}
	if got := floats(out[0]); got[0] != 2*v || got[1] != 2*(v+1) {
		return fmt.Errorf("double(%v) = %v", v, got)
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	p := newProducer(t, rdb)
	c := newConsumer(t, rdb, "w1")
	ctx, cancel := context.WithCancel(context.Background())
	_, done := serve(ctx, t, c, 8, 0)
	defer func() { cancel(); <-done }()

	if err := submitDouble(context.Background(), p, 1.5); err != nil {
		t.Fatal(err)
	}
	_, err := p.Submit(context.Background(), "double", "1", []tensor.Tensor{fp32("x", -1)}, 0)
	var re *redisq.RemoteError
	if !errors.As(err, &re) || re.Msg != "double: refusing -1" {
		t.Fatalf("failing model: got %v, want RemoteError", err)
	}
	if st := p.Stats(); st.Submitted != 2 || st.Answered != 2 || st.Dropped != 0 {
		t.Errorf("producer stats %+v", st)
	}
	// Answered entries are acknowledged and deleted: nothing stays.
	if n := rdb.XLen(context.Background(), c.Stream()).Val(); n != 0 {
		t.Errorf("stream holds %d entries after answers", n)
	}
}

func TestBatchesForm(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	p := newProducer(t, rdb)
	c := newConsumer(t, rdb, "w1")
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- submitDouble(context.Background(), p, float32(i)) }()
	}
	waitFor(t, func() bool { return rdb.XLen(context.Background(), c.Stream()).Val() == n })

	ctx, cancel := context.WithCancel(context.Background())
	batches, done := serve(ctx, t, c, 8, 0)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	cancel()
	<-done
	close(batches)
	var sizes []int
	for b := range batches {
		sizes = append(sizes, b)
	}
	if len(sizes) != 3 || sizes[0] != 8 || sizes[1] != 8 || sizes[2] != 4 {
		t.Errorf("batch sizes %v, want [8 8 4]", sizes)
	}
}

func TestTwoConsumersShareWork(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	p := newProducer(t, rdb)
	c1 := newConsumer(t, newClient(t, addr), "w1")
	c2 := newConsumer(t, newClient(t, addr), "w2")
	ctx, cancel := context.WithCancel(context.Background())
	_, done1 := serve(ctx, t, c1, 4, 20*time.Millisecond)
	_, done2 := serve(ctx, t, c2, 4, 20*time.Millisecond)

	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := submitDouble(context.Background(), p, float32(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cancel()
	<-done1
	<-done2
	s1, s2 := c1.Stats(), c2.Stats()
	if s1.Replied+s2.Replied != n || s1.Replied == 0 || s2.Replied == 0 {
		t.Errorf("replies w1=%d w2=%d, want %d shared by both", s1.Replied, s2.Replied, n)
	}
	if st := p.Stats(); st.Answered != n || st.Dropped != 0 {
		t.Errorf("producer stats %+v", st)
	}
}

func TestDeadWorkerJobsAreClaimed(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	p := newProducer(t, rdb)
	dead := newConsumer(t, newClient(t, addr), "dead")
	live := newConsumer(t, newClient(t, addr), "live")
	ctx := context.Background()

	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- submitDouble(ctx, p, float32(i)) }()
	}
	waitFor(t, func() bool { return rdb.XLen(ctx, dead.Stream()).Val() == n })

	// The "dead" worker reads the batch and never answers (kill -9).
	held, err := dead.ReadBatch(ctx, 8, time.Second)
	if err != nil || len(held) != n {
		t.Fatalf("dead worker read %d jobs, %v", len(held), err)
	}
	// Nothing new for the live worker, and the held jobs are not idle yet.
	if jobs, err := live.ReadBatch(ctx, 8, 0); err != nil || len(jobs) != 0 {
		t.Fatalf("live ReadBatch: %d jobs, %v", len(jobs), err)
	}
	const minIdle = 300 * time.Millisecond
	if jobs, err := live.Claim(ctx, minIdle); err != nil || len(jobs) != 0 {
		t.Fatalf("early Claim: %d jobs, %v", len(jobs), err)
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	claimed, err := live.Claim(ctx, minIdle)
	if err != nil || len(claimed) != n {
		t.Fatalf("Claim: %d jobs, %v", len(claimed), err)
	}
	for _, j := range claimed {
		if !j.Claimed {
			t.Errorf("job %s not marked Claimed", j.ID)
		}
		out, err := double(j.Inputs)
		if err := live.Reply(ctx, j, out, err); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The zombie wakes up and answers too: the front drops the duplicates.
	for _, j := range held {
		out, err := double(j.Inputs)
		if err := dead.Reply(ctx, j, out, err); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return p.Stats().Dropped == n })
	if st := p.Stats(); st.Answered != n {
		t.Errorf("producer stats %+v, want %d answered once each", st, n)
	}
	if n := rdb.XLen(ctx, live.Stream()).Val(); n != 0 {
		t.Errorf("stream holds %d entries", n)
	}
	if pend := rdb.XPending(ctx, live.Stream(), redisq.DefaultGroup).Val(); pend.Count != 0 {
		t.Errorf("%d entries still pending", pend.Count)
	}
}

func TestExpiredJobsAreNotRun(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	p := newProducer(t, rdb)
	c := newConsumer(t, rdb, "w1")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := submitDouble(ctx, p, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Submit returned after %v", d)
	}
	jobs, err := c.ReadBatch(context.Background(), 8, 0)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("ReadBatch: %d jobs, %v; want the expired one skipped", len(jobs), err)
	}
	if st := c.Stats(); st.Expired != 1 || st.Read != 0 {
		t.Errorf("consumer stats %+v", st)
	}
	if n := rdb.XLen(context.Background(), c.Stream()).Val(); n != 0 {
		t.Errorf("expired entry left in the stream (%d)", n)
	}
}

func TestMalformedEntryIsDropped(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	c := newConsumer(t, rdb, "w1")
	ctx := context.Background()
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.Stream(), Values: []any{"j", "garbage"}}).Err(); err != nil {
		t.Fatal(err)
	}
	jobs, err := c.ReadBatch(ctx, 8, 0)
	if err != nil || len(jobs) != 0 || c.Stats().Malformed != 1 {
		t.Fatalf("ReadBatch: %d jobs, %v, stats %+v", len(jobs), err, c.Stats())
	}
	if n := rdb.XLen(ctx, c.Stream()).Val(); n != 0 {
		t.Errorf("malformed entry left in the stream (%d)", n)
	}
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := newClient(t, srv.Addr)
	p := newProducer(t, rdb)
	c := newConsumer(t, newClient(t, srv.Addr), "w1")
	ctx := context.Background()

	// A request waiting for an answer when Redis goes away fails promptly.
	waiting := make(chan error, 1)
	go func() { waiting <- submitDouble(ctx, p, 1) }()
	waitFor(t, func() bool { return rdb.XLen(ctx, c.Stream()).Val() == 1 })
	srv.Stop()
	select {
	case err := <-waiting:
		if !errors.Is(err, redisq.ErrUnavailable) {
			t.Errorf("in-flight Submit: %v, want ErrUnavailable", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("in-flight Submit still waiting 3 s into the outage")
	}

	// New requests and reads fail fast during the outage.
	start := time.Now()
	err := submitDouble(ctx, p, 2)
	if !errors.Is(err, redisq.ErrUnavailable) {
		t.Errorf("Submit during outage: %v, want ErrUnavailable", err)
	}
	if _, err := c.ReadBatch(ctx, 8, 50*time.Millisecond); !errors.Is(err, redisq.ErrUnavailable) {
		t.Errorf("ReadBatch during outage: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("calls during the outage took %v", d)
	}

	// Redis comes back empty; both sides recover by themselves (the
	// consumer recreates its group).
	srv.Restart()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for wctx.Err() == nil {
			jobs, err := c.ReadBatch(wctx, 8, 50*time.Millisecond)
			if err != nil { // Redis still coming back
				time.Sleep(20 * time.Millisecond)
				continue
			}
			for _, j := range jobs {
				out, err := double(j.Inputs)
				_ = c.Reply(wctx, j, out, err)
			}
		}
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		err := submitDouble(sctx, p, 3)
		scancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 5 s after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 5 {
		if err := submitDouble(ctx, p, float32(i)); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUndelivered counts the entries no worker has read: all of them before
// any read, the rest after one, none in a stream that does not exist.
func TestUndelivered(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	ctx := context.Background()
	p := newProducer(t, rdb)
	c := newConsumer(t, rdb, "w1")
	const n = 3
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range n {
		go func() { _ = submitDouble(sctx, p, float32(i)) }()
	}
	waitFor(t, func() bool { return rdb.XLen(ctx, c.Stream()).Val() == n })
	check := func(want ...int64) {
		t.Helper()
		got, err := redisq.Undelivered(ctx, rdb, c.Stream(), redisq.StreamKey("nope", "1"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Undelivered = %v, want %v", got, want)
		}
	}
	check(n, 0)
	jobs, err := c.ReadBatch(ctx, 2, 0)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("ReadBatch: %d jobs, %v", len(jobs), err)
	}
	check(1, 0)
}

// TestLiveWorkersJobsAreNotClaimed: entries held by a worker that still
// announces itself, or by the claimer itself, are left alone however idle,
// until StuckAfter.
func TestLiveWorkersJobsAreNotClaimed(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	p := newProducer(t, rdb)
	ctx := context.Background()
	busy := newConsumer(t, newClient(t, addr), "busy")
	other, err := redisq.NewConsumer(newClient(t, addr), redisq.ConsumerOptions{Model: "double", Version: "1", Name: "other", StuckAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// "busy" is alive: its announcement key exists.
	if err := rdb.Set(ctx, redisq.WorkerKey("busy"), "{}", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 3
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range n {
		go func() { _ = submitDouble(sctx, p, float32(i)) }()
	}
	waitFor(t, func() bool { return rdb.XLen(ctx, busy.Stream()).Val() == n })
	if held, err := busy.ReadBatch(ctx, 8, time.Second); err != nil || len(held) != n {
		t.Fatalf("busy read %d jobs, %v", len(held), err)
	}
	const minIdle = 200 * time.Millisecond
	time.Sleep(minIdle + 50*time.Millisecond)
	for _, c := range []*redisq.Consumer{busy, other} {
		if jobs, err := c.Claim(ctx, minIdle); err != nil || len(jobs) != 0 {
			t.Errorf("Claim by a live worker's peer or itself: %d jobs, %v; want none", len(jobs), err)
		}
	}
	// Past StuckAfter the live worker is presumed stuck.
	time.Sleep(time.Second)
	if jobs, err := other.Claim(ctx, minIdle); err != nil || len(jobs) != n {
		t.Errorf("Claim after StuckAfter: %d jobs, %v; want %d", len(jobs), err, n)
	}
}

// TestPruneGoneConsumers: consumers of workers that are gone (idle, nothing
// pending, no announcement) leave the group; a live one and the pruner stay.
func TestPruneGoneConsumers(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	ctx := context.Background()
	names := []string{"gone", "alive", "pruner"}
	cs := map[string]*redisq.Consumer{}
	for _, n := range names {
		cs[n] = newConsumer(t, newClient(t, addr), n)
		if _, err := cs[n].ReadBatch(ctx, 1, 0); err != nil { // creates the group
			t.Fatal(err)
		}
		// Redis 7.0 adds a consumer on its first delivery; join explicitly.
		if err := rdb.XGroupCreateConsumer(ctx, cs[n].Stream(), redisq.DefaultGroup, n).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Set(ctx, redisq.WorkerKey("alive"), "{}", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	members := func() []string {
		infos, err := rdb.XInfoConsumers(ctx, cs["gone"].Stream(), redisq.DefaultGroup).Result()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ci := range infos {
			out = append(out, ci.Name)
		}
		slices.Sort(out)
		return out
	}
	if n, err := cs["pruner"].Prune(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("Prune(1h) = %d, %v; want nothing idle that long", n, err)
	}
	time.Sleep(150 * time.Millisecond)
	if n, err := cs["pruner"].Prune(ctx, 100*time.Millisecond); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1", n, err)
	}
	if got := members(); !slices.Equal(got, []string{"alive", "pruner"}) {
		t.Errorf("group members %v, want [alive pruner]", got)
	}
}

// TestClientURL: the password and database of a redis:// URL are used (a
// wrong password fails clearly), rediss:// turns TLS on, and a URL of
// another scheme is refused.
func TestClientURL(t *testing.T) {
	s := redistest.StartWithPassword(t, "s3cret")
	ctx := context.Background()
	good, err := redisq.NewClient("redis://:s3cret@" + s.Addr + "/3")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	db0, err := redisq.NewClient("redis://:s3cret@" + s.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer db0.Close()
	if n := db0.Exists(ctx, "k").Val(); n != 0 {
		t.Errorf("key written to db 3 is visible in db 0")
	}
	bad, err := redisq.NewClient("redis://:wrong@" + s.Addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v, want WRONGPASS", err)
	}
	tls, err := redisq.NewClient("rediss://:pw@redis.example:6380/1")
	if err != nil {
		t.Fatal(err)
	}
	defer tls.Close()
	if o := tls.Options(); o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.DB != 1 {
		t.Errorf("rediss:// options: TLS %v, db %d", o.TLSConfig, o.DB)
	}
	if _, err := redisq.NewClient("http://" + s.Addr); err == nil {
		t.Error("http:// URL accepted")
	}
}
