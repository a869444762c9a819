package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/redistest"
	"github.com/taominer/taominer/models/tensor"
)

// waitStatus polls GET path until it answers status, or fails after d.
func waitStatus(t *testing.T, tn *testNode, path string, status int, d time.Duration) httpResult {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := tn.do(t, http.MethodGet, path, nil, nil)
		if r.status == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %d (%s) after %v, want %d", path, r.status, r.body, d, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// identityRequest is a request for identity_all with every input, built
// from its metadata.
func identityRequest(t *testing.T, tn *testNode) *api.InferRequest {
	t.Helper()
	var meta api.ModelMetadata
	if err := json.Unmarshal(tn.do(t, http.MethodGet, "/v2/models/identity_all", nil, nil).body, &meta); err != nil {
		t.Fatal(err)
	}
	req := &api.InferRequest{}
	for _, in := range meta.Inputs {
		dt := must(tensor.ParseDataType(in.Datatype))
		tt := tensor.Tensor{Name: in.Name, DataType: dt, Shape: []int64{2, 2}}
		if dt == tensor.Bytes {
			tt.Strings = [][]byte{[]byte("a"), []byte("ü"), []byte(""), []byte(`"q"`)}
		} else {
			tt.Data = make([]byte, 4*dt.Size())
		}
		req.Inputs = append(req.Inputs, tt)
	}
	return req
}

// TestRedisRoles runs one worker and one api node on a real redis-server
// and checks they answer as an in-process node does, 404 for a model no
// worker serves, and 503 while Redis is down, recovering after.
func TestRedisRoles(t *testing.T) {
	rs := redistest.StartServer(t)
	url := "redis://" + rs.Addr
	dir := standardRepo(t)
	local := startNode(t, dir, nil)
	startNode(t, dir, func(c *config.Serve) { c.Redis, c.Role = url, "worker" })
	front := startNode(t, t.TempDir(), func(c *config.Serve) { c.Redis, c.Role = url, "api" })

	waitStatus(t, front, "/v2/models/ppocr_cls/ready", http.StatusOK, 10*time.Second)
	waitStatus(t, front, "/v2/health/ready", http.StatusOK, time.Second)

	rng := rand.New(rand.NewPCG(4, 4))
	cls := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 2)}}
	same := func(path string, req *api.InferRequest, binaryIn bool) {
		t.Helper()
		want := local.send(t, path, req, binaryIn)
		got := front.send(t, path, req, binaryIn)
		if got.status != http.StatusOK || want.status != http.StatusOK {
			t.Fatalf("POST %s: front %d %s, in-process %d %s", path, got.status, got.body, want.status, want.body)
		}
		if !bytes.Equal(got.body, want.body) {
			t.Errorf("POST %s through Redis:\n%s\nin-process:\n%s", path, got.body, want.body)
		}
	}
	same("/v2/models/ppocr_cls/infer", cls, true)
	same("/v2/models/ppocr_cls/versions/1/infer", cls, false)
	id := identityRequest(t, local)
	same("/v2/models/identity_all/infer", id, false)
	id.BinaryOutput = true
	same("/v2/models/identity_all/infer", id, true)
	f := false
	id.Outputs = []api.RequestedOutput{{Name: "out_int64", Binary: &f}, {Name: "out_bytes"}}
	same("/v2/models/identity_all/infer", id, false)

	// The metadata is the worker's.
	for _, p := range []string{"/v2/models/ppocr_cls", "/v2/models/identity_all"} {
		if got, want := front.do(t, http.MethodGet, p, nil, nil), local.do(t, http.MethodGet, p, nil, nil); !bytes.Equal(got.body, want.body) {
			t.Errorf("GET %s: front %s, in-process %s", p, got.body, want.body)
		}
	}

	// Errors: unknown model, bad input, a worker-side failure, load.
	errorBody(t, front.send(t, "/v2/models/nope/infer", cls, true), http.StatusNotFound, "unknown model: 'nope'")
	errorBody(t, front.send(t, "/v2/models/broken/infer", cls, true), http.StatusNotFound, "unknown model: 'broken'")
	bad := &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 1)}}
	bad.Inputs[0].Shape = []int64{1, 3, 48, 48}
	bad.Inputs[0].Data = bad.Inputs[0].Data[:3*48*48*4]
	errorBody(t, front.send(t, "/v2/models/ppocr_cls/infer", bad, true), http.StatusBadRequest, "does not match")
	errorBody(t, front.send(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rng, 17)}}, true),
		http.StatusBadRequest, "exceeds max_batch_size")
	prio := &api.InferRequest{Inputs: cls.Inputs, Parameters: api.Parameters{"priority": 1}}
	errorBody(t, front.send(t, "/v2/models/ppocr_cls/infer", prio, true), http.StatusBadRequest, "has no priority levels")
	seq := &api.InferRequest{Inputs: cls.Inputs, Parameters: api.Parameters{"sequence_id": 1}}
	errorBody(t, front.send(t, "/v2/models/ppocr_cls/infer", seq, true), http.StatusBadRequest, "sequence extension")
	// A deadline shorter than any run: the worker drops it or the front
	// stops waiting; 503 either way.
	late := &api.InferRequest{Inputs: cls.Inputs, Parameters: api.Parameters{"timeout": 1}}
	errorBody(t, front.send(t, "/v2/models/ppocr_cls/infer", late, true), http.StatusServiceUnavailable, "deadline passed")
	errorBody(t, front.do(t, http.MethodPost, "/v2/repository/models/ppocr_cls/load", nil, nil), http.StatusBadRequest, "api-role node")

	// Redis down: clear 503s, no hang; back up: served again, and no
	// goroutine started during the outage or the recovery is left over.
	http.DefaultClient.CloseIdleConnections()
	before := goleak.IgnoreCurrent()
	rs.Stop()
	start := time.Now()
	r := front.send(t, "/v2/models/ppocr_cls/infer", cls, true)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("request during the outage took %v", took)
	}
	errorBody(t, r, http.StatusServiceUnavailable, "redis")
	waitStatus(t, front, "/v2/models/ppocr_cls/ready", http.StatusServiceUnavailable, 5*time.Second)
	r = front.send(t, "/v2/models/ppocr_cls/infer", cls, true)
	errorBody(t, r, http.StatusServiceUnavailable, "redis queue unavailable")

	rs.Restart()
	waitStatus(t, front, "/v2/models/ppocr_cls/ready", http.StatusOK, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := front.send(t, "/v2/models/ppocr_cls/infer", cls, true)
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(string(r.body), "redis") {
			t.Fatalf("after the restart: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	same("/v2/models/ppocr_cls/infer", cls, true)
	http.DefaultClient.CloseIdleConnections()
	// go-redis' pool probes a failed Redis from one goroutine that sleeps a
	// second between dials and ends at the first one that succeeds: under
	// load that can outlast goleak's own retries, so give it a few seconds.
	for wait := time.Now().Add(10 * time.Second); goleak.Find(before) != nil && time.Now().Before(wait); {
		time.Sleep(200 * time.Millisecond)
	}
	goleak.VerifyNone(t, before)
}

func TestRoleNeedsRedis(t *testing.T) {
	for _, tc := range []struct{ role, redis, want string }{
		{"api", "", "--role api needs --redis"},
		{"worker", "", "--role worker needs --redis"},
		{"api", "http://nope", "redis url"},
	} {
		cfg := config.DefaultServe()
		cfg.HTTPAddr, cfg.Role, cfg.Redis = "127.0.0.1:0", tc.role, tc.redis
		cfg.GRPCAddr = ""
		_, err := newNode(t.Context(), cfg, newLogger(cfg, io.Discard))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("role %s redis %q: err = %v, want %q", tc.role, tc.redis, err, tc.want)
		}
	}
}
