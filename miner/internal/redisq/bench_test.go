package redisq_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/tensor"
)

// benchBatch and benchBlock are the worker's ReadBatch arguments.
const (
	benchBatch  = 16
	benchBlock  = 5 * time.Millisecond
	benchModel  = "bench"
	benchVer    = "1"
	benchWarmup = 8 // untimed round trips before each measurement
)

// benchInput is one FP32 [1,3,48,192] tensor of random values: the size of
// the bundled PaddleOCR input (110 592 bytes).
func benchInput() []tensor.Tensor {
	shape := []int64{1, 3, 48, 192}
	n := int(shape[0] * shape[1] * shape[2] * shape[3])
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 0, 4*n)
	for range n {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(r.Float32()))
	}
	return []tensor.Tensor{{Name: "x", DataType: tensor.FP32, Shape: shape, Data: data}}
}

// benchOutput is the small reply: one FP32 [1,2] tensor.
func benchOutput() []tensor.Tensor {
	data := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.25))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(0.75))
	return []tensor.Tensor{{Name: "y", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: data}}
}

// BenchmarkTransport compares a closed loop of C concurrent callers through
// the Redis transport (Producer.Submit → Consumer.ReadBatch/Reply, no model
// work) with the same loop through an in-process channel queue, the cost
// floor. Metrics: req/s, exact p50/p99 latency of all requests in µs, and
// for Redis the average jobs per non-empty ReadBatch.
func BenchmarkTransport(b *testing.B) {
	addr := redistest.Start(b) // one private server for all sub-benchmarks
	in, out := benchInput(), benchOutput()
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("path=redis/conc=%d", conc), func(b *testing.B) {
			benchRedis(b, addr, conc, in, out)
		})
		b.Run(fmt.Sprintf("path=inproc/conc=%d", conc), func(b *testing.B) {
			benchInproc(b, conc, in, out)
		})
	}
}

func benchClient(b *testing.B, addr string) *redis.Client {
	b.Helper()
	rdb, err := redisq.NewClient("redis://" + addr + "/0")
	if err != nil {
		b.Fatal(err)
	}
	return rdb
}

func benchRedis(b *testing.B, addr string, conc int, in, out []tensor.Tensor) {
	// Front and worker use separate clients (connection pools), as two
	// processes would.
	prdb, crdb := benchClient(b, addr), benchClient(b, addr)
	defer func() { _ = prdb.Close(); _ = crdb.Close() }()
	p := redisq.NewProducer(prdb, redisq.ProducerOptions{})
	defer func() { _ = p.Close() }()
	c, err := redisq.NewConsumer(crdb, redisq.ConsumerOptions{Model: benchModel, Version: benchVer, Name: "bench-worker"})
	if err != nil {
		b.Fatal(err)
	}

	// runCtx ends the callers' waits if the worker fails, so nothing hangs
	// until the 30 s default deadline.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	workCtx, stopWork := context.WithCancel(context.Background())
	var batches, jobs atomic.Int64
	var workErr error
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		for {
			js, err := c.ReadBatch(workCtx, benchBatch, benchBlock)
			if err == nil && len(js) > 0 {
				batches.Add(1)
				jobs.Add(int64(len(js)))
				for _, j := range js {
					if err = c.Reply(workCtx, j, out, nil); err != nil {
						break
					}
				}
			}
			if err != nil {
				if workCtx.Err() == nil {
					workErr = err
					stopRun()
				}
				return
			}
		}
	}()
	stopWorker := func() {
		stopWork()
		<-workDone
	}
	defer stopWorker()

	submit := func() error {
		got, err := p.Submit(runCtx, benchModel, benchVer, in, 0)
		if err == nil && len(got) != 1 {
			err = fmt.Errorf("%d outputs, want 1", len(got))
		}
		return err
	}
	for range benchWarmup { // connections, consumer group
		if err := submit(); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}

	b0, j0 := batches.Load(), jobs.Load()
	elapsed, lat, err := closedLoop(b, conc, submit)
	b1, j1 := batches.Load(), jobs.Load()
	stopWorker()
	if workErr != nil {
		b.Fatalf("worker: %v", workErr)
	}
	if err != nil {
		b.Fatal(err)
	}
	report(b, elapsed, lat)
	if b1 > b0 {
		b.ReportMetric(float64(j1-j0)/float64(b1-b0), "jobs/batch")
	}
}

// inprocCall is one request on the in-process queue: the caller's request,
// shared as is (its tensors are not copied or encoded), and where to answer.
type inprocCall struct {
	req   *redisq.Request
	reply chan *redisq.Reply
}

func benchInproc(b *testing.B, conc int, in, out []tensor.Tensor) {
	req := &redisq.Request{Model: benchModel, Version: benchVer, Inputs: in}
	queue := make(chan inprocCall, 64)
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		for call := range queue {
			call.reply <- &redisq.Reply{ID: call.req.ID, Outputs: out}
		}
	}()
	stopWorker := sync.OnceFunc(func() {
		close(queue)
		<-workDone
	})
	defer stopWorker()

	submit := func() error {
		ch := make(chan *redisq.Reply, 1)
		queue <- inprocCall{req: req, reply: ch}
		if r := <-ch; len(r.Outputs) != 1 {
			return fmt.Errorf("%d outputs, want 1", len(r.Outputs))
		}
		return nil
	}
	for range benchWarmup {
		_ = submit()
	}
	elapsed, lat, err := closedLoop(b, conc, submit)
	stopWorker()
	if err != nil {
		b.Fatal(err)
	}
	report(b, elapsed, lat)
}

// closedLoop runs conc goroutines that each call submit back to back until
// b.N calls were made in all, and returns the wall time and every call's
// latency. It stops at the first error.
func closedLoop(b *testing.B, conc int, submit func() error) (time.Duration, []time.Duration, error) {
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	lats := make([][]time.Duration, conc)
	for g := range lats {
		lats[g] = make([]time.Duration, 0, b.N/conc+1)
	}
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		wg.Go(func() {
			for !failed.Load() && next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				err := submit()
				lats[g] = append(lats[g], time.Since(t0))
				if err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if first != nil {
		return 0, nil, first
	}
	all := make([]time.Duration, 0, b.N)
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) != b.N {
		return 0, nil, errors.New("closed loop lost requests")
	}
	return elapsed, all, nil
}

// report adds req/s and the exact nearest-rank p50 and p99 of lat.
func report(b *testing.B, elapsed time.Duration, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(q float64) float64 {
		i := max(int(math.Ceil(q*float64(len(lat))))-1, 0)
		return float64(lat[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
