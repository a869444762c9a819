package redisnode

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/engine"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// announcingEngine serves one version, "echo" 1 (y = x, FP32 [-1,2], max
// batch 8), records in order the announcements (front.Expecter) and the
// submissions it sees, and whether each submission carried an
// announcement.
type announcingEngine struct {
	mu      sync.Mutex
	events  []string
	stopped bool // Serving lists nothing: the version was unloaded
}

type announcedKey struct{}

func (e *announcingEngine) record(ev string) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

func (e *announcingEngine) Events() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

var echoSpec = models.Spec{Name: "echo", Version: "1", MaxBatchSize: 8, IO: models.IO{
	Inputs:  []models.TensorSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 2}}},
	Outputs: []models.TensorSpec{{Name: "y", DataType: tensor.FP32, Shape: []int64{-1, 2}}},
}}

func (e *announcingEngine) Serving() []engine.Served {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	return []engine.Served{{Name: "echo", Version: "1", MaxBatchSize: 8, Instances: 1, Metadata: &api.ModelMetadata{
		Name: "echo", Versions: []string{"1"},
		Inputs:  []api.TensorMetadata{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 2}}},
		Outputs: []api.TensorMetadata{{Name: "y", Datatype: "FP32", Shape: []int64{-1, 2}}},
	}}}
}

func (e *announcingEngine) Target(string, string) (front.Target, error) { return e, nil }

func (e *announcingEngine) Spec() *models.Spec { return &echoSpec }

func (e *announcingEngine) Expect(ctx context.Context, _, _ string) (context.Context, func()) {
	e.record("expect")
	return context.WithValue(ctx, announcedKey{}, true), func() {}
}

func (e *announcingEngine) Submit(ctx context.Context, inputs []tensor.Tensor, _ batch.Priority) ([]tensor.Tensor, error) {
	if ctx.Value(announcedKey{}) != nil {
		e.record("submit announced")
	} else {
		e.record("submit")
	}
	y := inputs[0]
	y.Name = "y"
	return []tensor.Tensor{y}, nil
}

// startQueue starts a redis-server for the test and returns a client of it
// and a producer on that client, both closed when the test ends.
func startQueue(t *testing.T) (*redis.Client, *redisq.Producer) {
	t.Helper()
	rdb, err := redisq.NewClient("redis://" + redistest.Start(t) + "/0")
	if err != nil {
		t.Fatal(err)
	}
	p := redisq.NewProducer(rdb, redisq.ProducerOptions{})
	t.Cleanup(func() {
		_ = p.Close()
		_ = rdb.Close()
	})
	return rdb, p
}

func echoInput(v float32) []tensor.Tensor {
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v+1))
	return []tensor.Tensor{{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: data}}
}

// TestWorkerAnnouncesPoppedJobs: the jobs one read pops are all announced
// to the engine before the first of them is submitted, and each is
// submitted under its announcement, so that the version's batcher can wait
// for them all; a job popped alone is not announced.
func TestWorkerAnnouncesPoppedJobs(t *testing.T) {
	rdb, p := startQueue(t)
	ctx := context.Background()
	submit := func(v float32) error {
		out, err := p.Submit(ctx, "echo", "1", echoInput(v), 0)
		if err == nil && !cmp.Equal(out[0].Data, echoInput(v)[0].Data) {
			t.Errorf("echo(%v) answered %v", v, out[0].Data)
		}
		return err
	}

	// Four requests wait in the stream before the worker starts: its first
	// read pops all four.
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- submit(float32(i)) }()
	}
	stream := redisq.StreamKey("echo", "1")
	for deadline := time.Now().Add(5 * time.Second); rdb.XLen(ctx, stream).Val() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the requests never reached the stream")
		}
	}
	eng := &announcingEngine{}
	w := NewWorker(rdb, eng, WorkerOptions{})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Then one alone.
	if err := submit(9); err != nil {
		t.Fatal(err)
	}
	want := []string{"expect", "expect", "expect", "expect",
		"submit announced", "submit announced", "submit announced", "submit announced", "submit"}
	if diff := cmp.Diff(want, eng.Events()); diff != "" {
		t.Errorf("engine events (-want +got):\n%s", diff)
	}
}

// TestWorkerStats: a worker counts the jobs it read and the answers it
// wrote, in fewer MULTIs than answers when they are written together, and
// its counts stay once the version is unloaded and its consumer ends.
func TestWorkerStats(t *testing.T) {
	rdb, p := startQueue(t)
	ctx := context.Background()
	eng := &announcingEngine{}
	w := NewWorker(rdb, eng, WorkerOptions{Reconcile: 10 * time.Millisecond})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()

	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := p.Submit(ctx, "echo", "1", echoInput(float32(i)), 0)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A worker counts an answer once its MULTI returned, which may be
	// after the front got the answer.
	s := w.Stats()
	for deadline := time.Now().Add(5 * time.Second); s.Replied < n && time.Now().Before(deadline); s = w.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Read != n || s.Replied != n || s.Expired != 0 || s.Malformed != 0 || s.Claimed != 0 {
		t.Errorf("stats %+v, want %d read and replied, nothing else", s, n)
	}
	if s.Writes < 1 || s.Writes > n {
		t.Errorf("%d answer writes for %d answers", s.Writes, n)
	}

	eng.mu.Lock()
	eng.stopped = true
	eng.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		gone := len(w.consumers) == 0 && len(w.retired) == 0
		w.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unloaded version's consumer never ended")
		}
	}
	if after := w.Stats(); after != s {
		t.Errorf("after the version's consumer ended: %+v, want the same as before, %+v", after, s)
	}
}
