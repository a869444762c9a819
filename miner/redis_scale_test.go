package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/redisq"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// childArgsEnv carries, as JSON, the command line a re-executed test
// binary runs as the miner (see TestMain).
const childArgsEnv = "TAOMINER_TEST_CHILD_ARGS"

// TestMain lets a test start the miner as a real child process (to kill it
// with SIGKILL) by re-executing the test binary.
func TestMain(m *testing.M) {
	if js := os.Getenv(childArgsEnv); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChild runs `miner args...` as a child process; it is killed when
// the test ends. Its output goes to the returned buffer.
func startChild(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(js))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, out
}

// syncBuffer is a bytes.Buffer safe for a child's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requestFor builds a request for every input of a model from its
// metadata, dynamic dimensions set to 2, values small and varied.
func requestFor(t *testing.T, tn *testNode, model string) *api.InferRequest {
	t.Helper()
	var meta api.ModelMetadata
	r := tn.do(t, http.MethodGet, "/v2/models/"+model, nil, nil)
	if err := json.Unmarshal(r.body, &meta); err != nil {
		t.Fatalf("metadata of %s: %v (%s)", model, err, r.body)
	}
	req := &api.InferRequest{}
	for k, in := range meta.Inputs {
		dt := must(tensor.ParseDataType(in.Datatype))
		shape := make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = d
			if d < 0 {
				shape[i] = 2
			}
		}
		tt := tensor.Tensor{Name: in.Name, DataType: dt, Shape: shape}
		n := int(tensor.NumElements(shape))
		for i := range n {
			v := float64((i+k)%7) - 3 + 0.25*float64(i%4)
			switch dt {
			case tensor.Bytes:
				tt.Strings = append(tt.Strings, []byte(strings.Repeat("é", i%3)))
			case tensor.Bool:
				tt.Data = append(tt.Data, byte(i%2))
			case tensor.FP32:
				tt.Data = binary.LittleEndian.AppendUint32(tt.Data, math.Float32bits(float32(v)))
			case tensor.FP64:
				tt.Data = binary.LittleEndian.AppendUint64(tt.Data, math.Float64bits(v))
			case tensor.BF16:
				tt.Data = binary.LittleEndian.AppendUint16(tt.Data, uint16(math.Float32bits(float32(v))>>16))
			case tensor.FP16:
				// Small integers only: sign, exponent and 2 mantissa bits.
				tt.Data = binary.LittleEndian.AppendUint16(tt.Data, []uint16{0xC200, 0xC000, 0xBC00, 0, 0x3C00, 0x4000, 0x4200}[(i+k)%7])
			default:
				x := uint64(int64((i + k) % 7))
				for b := range dt.Size() {
					tt.Data = append(tt.Data, byte(x>>(8*b)))
				}
			}
		}
		req.Inputs = append(req.Inputs, tt)
	}
	return req
}

// TestRedisAllRoleEveryModel: a node with --role all and --redis, sharing
// the queue with a worker, answers every test model byte for byte as an
// in-process node does, in JSON and binary.
func TestRedisAllRoleEveryModel(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	dir := standardRepo(t)
	local := startNode(t, dir, nil)
	both := startNode(t, dir, func(c *config.Serve) { c.Redis = url })
	startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker" })
	waitStatus(t, both, "/v2/models/identity_all/ready", http.StatusOK, 10*time.Second)

	rng := rand.New(rand.NewPCG(9, 9))
	reqs := map[string]*api.InferRequest{
		"ppocr_cls":  {Inputs: []tensor.Tensor{clsInput(rng, 3)}},
		"ppocr_wait": {Inputs: []tensor.Tensor{clsInput(rng, 1)}},
	}
	for _, m := range []string{"identity_all", "fixed_affine", "row_sum", "example_dynamic_axes", "example_multitype"} {
		reqs[m] = requestFor(t, local, m)
	}
	for m, req := range reqs {
		for _, binaryIn := range []bool{false, true} {
			req.BinaryOutput = binaryIn
			path := "/v2/models/" + m + "/infer"
			want := local.send(t, path, req, binaryIn)
			if want.status != http.StatusOK {
				t.Fatalf("%s in-process: %d %s", m, want.status, want.body)
			}
			// Several times: the node itself and the worker both serve it.
			for range 3 {
				got := both.send(t, path, req, binaryIn)
				if got.status != http.StatusOK || !bytes.Equal(got.body, want.body) {
					t.Errorf("%s (binary %v) through Redis: %d\n%s\nin-process:\n%s", m, binaryIn, got.status, got.body, want.body)
					break
				}
			}
		}
	}
	// The node's /v1/stats covers both workers (itself and the other).
	st := waitThroughput(t, both, func(s *api.ThroughputStats) bool { return len(s.Workers) == 2 })
	if row := findRow(st.Models, "identity_all"); row == nil || !row.Ready {
		t.Errorf("/v1/stats lacks a ready identity_all: %+v", st.Models)
	}
}

// waitThroughput polls /v1/stats until ok holds (workers announce their
// figures about once a second), or fails after 5 s.
func waitThroughput(t *testing.T, tn *testNode, ok func(*api.ThroughputStats) bool) *api.ThroughputStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := tn.do(t, http.MethodGet, "/v1/stats", nil, nil)
		var st api.ThroughputStats
		if r.status == http.StatusOK {
			if err := json.Unmarshal(r.body, &st); err != nil {
				t.Fatal(err)
			}
			if ok(&st) {
				return &st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/stats did not reach the expected state: %d\n%s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func findRow(rows []api.ModelThroughput, model string) *api.ModelThroughput {
	for i := range rows {
		if rows[i].Name == model {
			return &rows[i]
		}
	}
	return nil
}

// TestRedisTwoWorkers: one front, two workers. Concurrent clients' requests
// are merged into batches, both workers do work, the answers equal solo
// runs, and the front's statistics are the workers' sums.
func TestRedisTwoWorkers(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	dir := standardRepo(t)
	workers := []*testNode{
		startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker" }),
		startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker" }),
	}
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api" })
	waitThroughput(t, front, func(s *api.ThroughputStats) bool { return len(s.Workers) == 2 })

	rng := rand.New(rand.NewPCG(5, 5))
	const clients = 8
	inputs := make([]tensor.Tensor, clients)
	solo := make([][]float32, clients)
	for i := range inputs {
		inputs[i] = clsInput(rng, 1)
		solo[i] = modeltest.F32s(workers[0].infer(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{Inputs: inputs[i : i+1]}, true).Outputs[0].Data)
	}
	path := "/v2/models/ppocr_wait/infer"
	worked := func() (items [2]uint64, execs uint64) {
		for i, w := range workers {
			s := modelStats(t, w, "ppocr_wait")
			items[i], execs = s.InferenceCount, execs+s.ExecutionCount
		}
		return items, execs
	}
	rounds := 0
	for ; rounds < 8; rounds++ {
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				r := front.send(t, path, &api.InferRequest{Inputs: inputs[i : i+1]}, i%2 == 0)
				if r.status != http.StatusOK {
					t.Errorf("client %d: %d %s", i, r.status, r.body)
					return
				}
				resp, err := api.DecodeInferResponse(r.body, headerLength(r))
				if err != nil {
					t.Error(err)
					return
				}
				if d := relDiff(modeltest.F32s(resp.Outputs[0].Data), solo[i]); d > 1e-5 {
					t.Errorf("client %d: batched answer differs from the solo run by %g", i, d)
				}
			})
		}
		wg.Wait()
		if items, _ := worked(); rounds >= 2 && items[0] > 0 && items[1] > 0 {
			rounds++
			break
		}
	}
	items, execs := worked()
	total := items[0] + items[1]
	t.Logf("%d rounds of %d clients: worker items %v, %d executions", rounds, clients, items, execs)
	if total != uint64(rounds*clients) {
		t.Errorf("workers inferred %d items, want %d", total, rounds*clients)
	}
	if items[0] == 0 || items[1] == 0 {
		t.Errorf("one worker did no work: items %v", items)
	}
	if execs >= total {
		t.Errorf("%d executions for %d requests: no batch formed across clients", execs, total)
	}

	// The front sums the workers' statistics once they announce them.
	st := waitThroughput(t, front, func(s *api.ThroughputStats) bool {
		row := findRow(s.Models, "ppocr_wait")
		return row != nil && row.Totals.InferenceCount == total
	})
	row := findRow(st.Models, "ppocr_wait")
	if row.Totals.ExecutionCount != execs || !row.Ready {
		t.Errorf("front ppocr_wait totals %+v ready %v, want %d executions", row.Totals, row.Ready, execs)
	}
	if row.Windows.Last60s.RequestsPerS <= 0 || row.Windows.Last60s.P50Ms <= 0 || row.Windows.Last60s.AvgBatch <= 1 {
		t.Errorf("front ppocr_wait 60s window %+v: want requests, a latency, and batches above 1", row.Windows.Last60s)
	}
	if len(st.Workers) != 2 {
		t.Fatalf("front lists %d workers, want 2", len(st.Workers))
	}
	for _, w := range st.Workers {
		if r := findRow(w.Models, "ppocr_wait"); r == nil || r.Totals.InferenceCount == 0 {
			t.Errorf("worker %s: ppocr_wait row %+v, want its own work", w.ID, r)
		}
	}
	if s := modelStats(t, front, "ppocr_wait"); s.InferenceCount != total || s.ExecutionCount != execs {
		t.Errorf("front /v2 stats: %d items in %d executions, want %d in %d", s.InferenceCount, s.ExecutionCount, total, execs)
	}
	errorBody(t, front.do(t, http.MethodGet, "/v2/models/nope/stats", nil, nil), http.StatusNotFound, "unknown model")
}

func headerLength(r httpResult) int {
	if v := r.header.Get("Inference-Header-Content-Length"); v != "" {
		var n int
		_ = json.Unmarshal([]byte(v), &n)
		return n
	}
	return -1
}

// TestRedisKilledWorker: a worker process killed with SIGKILL while it
// holds unacknowledged requests loses none of them: a live worker claims
// them after the claim idle time, and each client gets exactly one answer.
func TestRedisKilledWorker(t *testing.T) {
	addr := redistest.Start(t)
	url := "redis://" + addr
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	dir := t.TempDir()
	// A two-second batching window holds the requests in the victim.
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_slow.onnx"))
	writeFile(t, filepath.Join(dir, "ppocr_slow.yaml"), "dynamic_batching:\n  max_queue_delay_microseconds: 2000000\n")

	victim, out := startChild(t, "serve", "--role", "worker", "--redis", url, "--models", dir,
		"--http-addr", "127.0.0.1:0", "--log-level", "warn")
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api" })
	deadline := time.Now().Add(30 * time.Second)
	for front.do(t, http.MethodGet, "/v2/models/ppocr_slow/ready", nil, nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the worker process never announced ppocr_slow; its output:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	const n = 5
	rng := rand.New(rand.NewPCG(6, 6))
	inputs := make([]tensor.Tensor, n)
	for i := range inputs {
		inputs[i] = clsInput(rng, 1)
	}
	results := make(chan httpResult, n)
	for i := range n {
		go func() {
			results <- front.send(t, "/v2/models/ppocr_slow/infer", &api.InferRequest{Inputs: inputs[i : i+1]}, true)
		}()
	}
	stream := redisq.StreamKey("ppocr_slow", "1")
	ctx := context.Background()
	for {
		p, err := rdb.XPending(ctx, stream, redisq.DefaultGroup).Result()
		if err == nil && p.Count == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker never held %d requests (pending %+v, %v)", n, p, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := victim.Process.Kill(); err != nil { // SIGKILL: no reply, no ack
		t.Fatal(err)
	}
	_ = victim.Wait()
	if p := rdb.XPending(ctx, stream, redisq.DefaultGroup).Val(); p.Count != n {
		t.Fatalf("after the kill %d entries are pending, want %d", p.Count, n)
	}

	rescuer := startNode(t, dir, func(c *config.Serve) {
		c.Redis, c.Role, c.RedisClaimIdle = url, "worker", 500*time.Millisecond
	})
	for range n {
		r := <-results
		if r.status != http.StatusOK {
			t.Errorf("request after the kill: %d %s", r.status, r.body)
		}
	}
	// Each ran once on the rescuer, and nothing is left in Redis.
	if s := modelStats(t, rescuer, "ppocr_slow"); s.InferenceCount != n {
		t.Errorf("the rescuer inferred %d items, want %d", s.InferenceCount, n)
	}
	if l := rdb.XLen(ctx, stream).Val(); l != 0 {
		t.Errorf("stream holds %d entries after all answers", l)
	}
	if p := rdb.XPending(ctx, stream, redisq.DefaultGroup).Val(); p.Count != 0 {
		t.Errorf("%d entries still pending", p.Count)
	}
}

// TestRedisWorkerFollowsReload: a reload that raises a model's max batch
// size restarts the worker's read loop, which then reads as many requests
// as the new size allows (two batches in flight; with the old size 2 it
// would hold at most 4).
func TestRedisWorkerFollowsReload(t *testing.T) {
	addr := redistest.Start(t)
	url := "redis://" + addr
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	dir := t.TempDir()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_slow.onnx"))
	cfgPath := filepath.Join(dir, "ppocr_slow.yaml")
	const window = "dynamic_batching:\n  max_queue_delay_microseconds: 1500000\n"
	writeFile(t, cfgPath, "max_batch_size: 2\n"+window)
	startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role, c.RepositoryPollInterval = url, "worker", 100*time.Millisecond })
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api" })
	waitStatus(t, front, "/v2/models/ppocr_slow/ready", http.StatusOK, 10*time.Second)

	writeFile(t, cfgPath, "max_batch_size: 16\n"+window)
	rng := rand.New(rand.NewPCG(8, 8))
	three := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 3)}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := front.send(t, "/v2/models/ppocr_slow/infer", three, true)
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusBadRequest || time.Now().After(deadline) {
			t.Fatalf("waiting for max_batch_size 16: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	const n = 8
	results := make(chan int, n)
	for range n {
		in := clsInput(rng, 1)
		go func() {
			results <- front.send(t, "/v2/models/ppocr_slow/infer", &api.InferRequest{Inputs: []tensor.Tensor{in}}, true).status
		}()
	}
	stream := redisq.StreamKey("ppocr_slow", "1")
	ctx := context.Background()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	most, answered := int64(0), 0
	for answered < n {
		select {
		case st := <-results:
			if st != http.StatusOK {
				t.Errorf("request: status %d", st)
			}
			answered++
		case <-tick.C:
			if p, err := rdb.XPending(ctx, stream, redisq.DefaultGroup).Result(); err == nil {
				most = max(most, p.Count)
			}
		}
	}
	if most != n {
		t.Errorf("the worker held at most %d of %d requests at once, want all (two batches of the new max 16)", most, n)
	}
}
