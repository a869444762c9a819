package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/batch"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// These tests drive the scheduling of the real server: priorities,
// deadlines and the queue bound. The model is the PaddleOCR classifier
// without the bundled input narrowing, so any image width is accepted and a
// very wide image (slowWidth) makes a run long enough (over a second) to
// hold the model busy while the test queues requests behind it, whose
// bodies are encoded beforehand. Each model runs one execution at a time.

// slowWidth makes a run of the classifier take most of a second on this
// machine (25 to 50 µs per column), several times what the race detector
// needs to queue the requests behind it.
const slowWidth = 28800

// slowRequest is the encoded slow request, built once.
var slowRequest = sync.OnceValue(func() encoded { return encode(clsImage(slowWidth, nil)) })

// prioRepo holds copies of the classifier with the configs the tests need.
func prioRepo(t *testing.T) string {
	dir := t.TempDir()
	configs := map[string]string{
		// No priorities, no timeouts: the server's defaults.
		"plain": "max_batch_size: 1\n",
		// A queue of one.
		"q1": "max_batch_size: 1\ndynamic_batching:\n  default_queue_policy: {max_queue_size: 1}\n",
		// Two levels, default the lower; batches of up to three.
		"levels": "max_batch_size: 3\ndynamic_batching:\n  priority_levels: 2\n  default_priority_level: 2\n",
		// A 100 ms timeout for every request, which they may not change.
		"strict": "max_batch_size: 1\ndynamic_batching:\n  default_queue_policy:\n" +
			"    timeout_action: REJECT\n    default_timeout_microseconds: 100000\n    allow_timeout_override: false\n",
	}
	for name, cfg := range configs {
		copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, name+".onnx"))
		writeFile(t, filepath.Join(dir, name+".yaml"), cfg)
	}
	return dir
}

// clsImage is one classifier input of the given width (a multiple of 8),
// with parameters.
func clsImage(width int, params api.Parameters) *api.InferRequest {
	pattern := modeltest.F32Bytes(-1, -0.5, 0, 0.5, 1, 0.25, -0.25, 0.75)
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 3, 48, int64(width)},
		Data: bytes.Repeat(pattern, 3*48*width/8)}
	return &api.InferRequest{Inputs: []tensor.Tensor{x}, Parameters: params}
}

// encoded is a request body with binary tensors, ready to post.
type encoded struct {
	body []byte
	hl   int
}

func encode(req *api.InferRequest) encoded {
	body, hl := api.AppendInferRequest(nil, req, true)
	return encoded{body, hl}
}

// answer is an HTTP reply and when it arrived.
type answer struct {
	status int
	header http.Header
	body   string
	at     time.Time
	err    error
}

// inferAsync posts req to model on its own goroutine.
func (tn *testNode) inferAsync(model string, req encoded) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		hr, err := http.NewRequest(http.MethodPost, tn.url+"/v2/models/"+model+"/infer", bytes.NewReader(req.body))
		if err != nil {
			ch <- answer{err: err}
			return
		}
		hr.Header.Set("Inference-Header-Content-Length", strconv.Itoa(req.hl))
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- answer{status: resp.StatusCode, header: resp.Header, body: string(b), at: time.Now(), err: err}
	}()
	return ch
}

// wantOK waits for an answer and checks it is a 200.
func wantOK(t *testing.T, what string, ch <-chan answer) answer {
	t.Helper()
	a := <-ch
	if a.err != nil || a.status != http.StatusOK {
		t.Errorf("%s: status %d, err %v, body %.200s; want 200", what, a.status, a.err, a.body)
	}
	return a
}

// queueStats returns the batcher counters of model's newest version.
func queueStats(t *testing.T, tn *testNode, model string) batch.Snapshot {
	t.Helper()
	s, err := tn.n.engine.QueueStats(model, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// awaitQueue polls model's batcher until cond holds, for at most 10 s.
func awaitQueue(t *testing.T, tn *testNode, model, what string, cond func(batch.Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := queueStats(t, tn, model)
		if cond(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("model %s: timed out waiting for %s; queue %+v", model, what, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// occupy starts a slow request on model and waits until it runs.
func occupy(t *testing.T, tn *testNode, model string) <-chan answer {
	t.Helper()
	ch := tn.inferAsync(model, slowRequest())
	awaitQueue(t, tn, model, "the slow request to run", func(s batch.Snapshot) bool { return s.Executing == 1 })
	return ch
}

// TestQueueFullIs429: with the model busy and its queue (max_queue_size 1)
// full, a request is refused at once with 429 and Retry-After, counted in
// rejected_count, and the queued one still runs.
func TestQueueFullIs429(t *testing.T) {
	tn := startNode(t, prioRepo(t), nil)
	small := encode(clsImage(192, nil))
	slow := occupy(t, tn, "q1")
	queued := tn.inferAsync("q1", small)
	awaitQueue(t, tn, "q1", "a queued request", func(s batch.Snapshot) bool { return s.QueueLength == 1 })

	r := tn.send(t, "/v2/models/q1/infer", clsImage(192, nil), true)
	errorBody(t, r, http.StatusTooManyRequests, "model queue is full")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Errorf("429 without Retry-After; headers %v", r.header)
	}
	if s := modelStats(t, tn, "q1"); s.RejectedCount != 1 || s.QueueLength != 1 {
		t.Errorf("stats while full: rejected_count %d, queue_length %d; want 1, 1", s.RejectedCount, s.QueueLength)
	}
	wantOK(t, "the slow request", slow)
	wantOK(t, "the queued request", queued)
	s := modelStats(t, tn, "q1")
	// The rejected request is a failure of reason rejected, counted once.
	if s.RejectedCount != 1 || s.ExecutionCount != 2 || s.InferenceStats.Success.Count != 2 || s.InferenceStats.Fail.Count != 1 {
		t.Errorf("stats after: rejected_count %d, execution_count %d, success %d, fail %d; want 1, 2, 2, 1",
			s.RejectedCount, s.ExecutionCount, s.InferenceStats.Success.Count, s.InferenceStats.Fail.Count)
	}
}

// TestPriorityOrderEndToEnd queues, behind a busy model with two priority
// levels and batches of up to three, low and high requests alternately,
// the lows of one image width and the highs of another. The two highs are
// batched first, together; then the three lows. In arrival order the
// differing widths would have made five executions of one.
func TestPriorityOrderEndToEnd(t *testing.T) {
	tn := startNode(t, prioRepo(t), nil)
	const lowWidth, highWidth = 960, 1024 // about 25 ms each
	order := []struct {
		name string
		req  encoded
	}{
		{"low 1", encode(clsImage(lowWidth, api.Parameters{"priority": 2}))},
		{"high 1", encode(clsImage(highWidth, api.Parameters{"priority": 1}))},
		{"low 2 (default level)", encode(clsImage(lowWidth, nil))},
		{"high 2", encode(clsImage(highWidth, api.Parameters{"priority": 1}))},
		{"low 3 (level 0: default)", encode(clsImage(lowWidth, api.Parameters{"priority": 0}))},
	}
	slow := occupy(t, tn, "levels")
	chans := make([]<-chan answer, len(order))
	for i, q := range order {
		chans[i] = tn.inferAsync("levels", q.req)
		awaitQueue(t, tn, "levels", q.name+" queued", func(s batch.Snapshot) bool { return s.QueueLength == i+1 })
	}
	// Which batch runs first: the one of two (highs) or of three (lows)?
	// Watch the model between its second and third executions.
	awaitQueue(t, tn, "levels", "the batch after the slow one", func(s batch.Snapshot) bool { return s.ExecutionCount >= 2 })
	if s := queueStats(t, tn, "levels"); s.ExecutionCount == 2 {
		if s.Batches[2].ComputeInfer.Count != 1 || s.Batches[3].ComputeInfer.Count != 0 {
			t.Errorf("after the slow run, the first batch was not the two highs: batch sizes run %v", s.Batches)
		}
	} else {
		t.Logf("missed the moment between the batches; only their sizes are checked")
	}
	wantOK(t, "the slow request", slow)
	for i, ch := range chans {
		wantOK(t, order[i].name, ch)
	}
	s := modelStats(t, tn, "levels")
	execs := map[uint64]uint64{}
	for _, b := range s.BatchStats {
		execs[b.BatchSize] = b.ComputeInfer.Count
	}
	if want := map[uint64]uint64{1: 1, 2: 1, 3: 1}; s.ExecutionCount != 3 || !maps.Equal(execs, want) {
		t.Errorf("execution_count %d, executions by batch size %v; want 3 and %v: the slow one, {high 1, high 2}, {low 1, low 2, low 3}",
			s.ExecutionCount, execs, want)
	}
}

// TestDeadlines: a request whose timeout passes while it is queued is
// answered 503 and dropped without running (counted as expired, not as
// cancelled); one whose timeout passes while it runs is answered 503 too,
// and counts as run.
func TestDeadlines(t *testing.T) {
	tn := startNode(t, prioRepo(t), nil)

	t.Run("parameters.timeout", func(t *testing.T) {
		req := clsImage(192, api.Parameters{"timeout": 100000})
		slow := occupy(t, tn, "plain")
		t0 := time.Now()
		r := tn.send(t, "/v2/models/plain/infer", req, true)
		took := time.Since(t0)
		errorBody(t, r, http.StatusServiceUnavailable, "model 'plain': deadline passed before the request ran (timeout 100ms)")
		if took < 100*time.Millisecond {
			t.Errorf("answered after %v, before its 100ms timeout", took)
		}
		if q := queueStats(t, tn, "plain"); q.Expired != 1 || q.Cancelled != 0 || q.QueueLength != 0 {
			t.Errorf("queue: Expired %d, Cancelled %d, QueueLength %d; want 1, 0, 0", q.Expired, q.Cancelled, q.QueueLength)
		}
		wantOK(t, "the slow request", slow)
		s := modelStats(t, tn, "plain")
		if s.ExecutionCount != 1 || s.InferenceCount != 1 || s.CancelledCount != 0 || s.InferenceStats.Fail.Count != 1 {
			t.Errorf("stats: execution_count %d, inference_count %d, cancelled_count %d, fail %d; want 1, 1, 0, 1 (the expired request never ran)",
				s.ExecutionCount, s.InferenceCount, s.CancelledCount, s.InferenceStats.Fail.Count)
		}
		// With time to spare, a timeout changes nothing.
		if r := tn.send(t, "/v2/models/plain/infer", clsImage(192, api.Parameters{"timeout": 10_000_000}), true); r.status != http.StatusOK {
			t.Errorf("request with a 10s timeout on an idle model: status %d, body %s", r.status, r.body)
		}
	})

	t.Run("model default, override not allowed", func(t *testing.T) {
		// The slow request gets the model's 100ms too: it runs, and is
		// answered when its deadline passes, while it still runs.
		req := clsImage(192, api.Parameters{"timeout": 60_000_000})
		slow := occupy(t, tn, "strict")
		// Its own 60s timeout is ignored: allow_timeout_override is false.
		r := tn.send(t, "/v2/models/strict/infer", req, true)
		errorBody(t, r, http.StatusServiceUnavailable, "model 'strict': deadline passed before the request ran (timeout 100ms)")
		a := <-slow
		if a.status != http.StatusServiceUnavailable || !bytes.Contains([]byte(a.body), []byte("deadline passed while the request ran (timeout 100ms)")) {
			t.Errorf("the slow request: status %d, body %s; want 503, deadline passed while it ran", a.status, a.body)
		}
		awaitQueue(t, tn, "strict", "the slow run to end", func(s batch.Snapshot) bool { return s.Executing == 0 })
		// Both expired: the second before it ran, the slow one while it ran.
		if q := queueStats(t, tn, "strict"); q.Expired != 2 || q.Cancelled != 0 || q.ExecutionCount != 1 {
			t.Errorf("queue: Expired %d, Cancelled %d, ExecutionCount %d; want 2, 0, 1", q.Expired, q.Cancelled, q.ExecutionCount)
		}
	})
}

// TestSchedulingParameters checks the validation of parameters.priority and
// parameters.timeout.
func TestSchedulingParameters(t *testing.T) {
	tn := startNode(t, prioRepo(t), nil)
	tests := []struct {
		model  string
		params api.Parameters
		status int
		want   string
	}{
		{"levels", api.Parameters{"priority": 0}, http.StatusOK, ""},
		{"levels", api.Parameters{"priority": 1}, http.StatusOK, ""},
		{"levels", api.Parameters{"priority": 2, "timeout": 0}, http.StatusOK, ""},
		{"plain", api.Parameters{"priority": 0}, http.StatusOK, ""},
		{"levels", api.Parameters{"priority": 3}, http.StatusBadRequest, "parameter 'priority' must be 1 (highest) to 2 (priority_levels), or 0 for the default; got 3"},
		{"levels", api.Parameters{"priority": -1}, http.StatusBadRequest, "got -1"},
		{"levels", api.Parameters{"priority": 1.5}, http.StatusBadRequest, `parameter "priority": want an integer, got 1.5`},
		{"levels", api.Parameters{"priority": "high"}, http.StatusBadRequest, `parameter "priority": want an integer, got "high"`},
		{"levels", api.Parameters{"priority": true}, http.StatusBadRequest, `parameter "priority": want an integer`},
		{"plain", api.Parameters{"priority": 1}, http.StatusBadRequest, "model 'plain' has no priority levels (dynamic_batching.priority_levels): parameter 'priority' must be 0 or absent, got 1"},
		{"plain", api.Parameters{"timeout": -5}, http.StatusBadRequest, "parameter 'timeout' must be 0 (none) to"},
		{"plain", api.Parameters{"timeout": 2.5}, http.StatusBadRequest, `parameter "timeout": want an integer, got 2.5`},
		{"plain", api.Parameters{"timeout": "1s"}, http.StatusBadRequest, `parameter "timeout": want an integer, got "1s"`},
	}
	for _, tt := range tests {
		r := tn.send(t, "/v2/models/"+tt.model+"/infer", clsImage(192, tt.params), true)
		if tt.status == http.StatusOK {
			if r.status != http.StatusOK {
				t.Errorf("model %s, parameters %v: status %d, body %s; want 200", tt.model, tt.params, r.status, r.body)
			}
			continue
		}
		t.Run(fmt.Sprintf("%s %v", tt.model, tt.params), func(t *testing.T) {
			errorBody(t, r, tt.status, tt.want)
		})
	}
}

// TestServerDefaultTimeout: --default-timeout applies to a request that
// sets none on a model that sets none.
func TestServerDefaultTimeout(t *testing.T) {
	tn := startNode(t, prioRepo(t), func(c *config.Serve) { c.DefaultTimeout = 100 * time.Millisecond })
	req := clsImage(192, nil)
	slow := occupy(t, tn, "plain")
	errorBody(t, tn.send(t, "/v2/models/plain/infer", req, true), http.StatusServiceUnavailable,
		"deadline passed before the request ran (timeout 100ms)")
	<-slow
	// The slow request has the same 100ms: it expires while it runs. Both
	// count as expired, once each.
	if s := modelStats(t, tn, "plain"); s.ExpiredCount != 2 || s.InferenceStats.Fail.Count != 2 {
		t.Errorf("expired_count = %d, fail %d; want 2, 2", s.ExpiredCount, s.InferenceStats.Fail.Count)
	}
}
