package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// testNode is a miner serving a model repository over real HTTP on a
// loopback port, with the real ONNX Runtime.
type testNode struct {
	url string
	dir string
	n   *node
}

// copyFile copies a model file into the repository.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// standardRepo builds a repository with the PaddleOCR classifier in both
// layouts, the small test models, and one broken model file.
func standardRepo(t *testing.T) string {
	dir := t.TempDir()
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_cls", "1", "model.onnx"))
	// The bundled model's own config (it fixes the input to [N,3,48,192]).
	copyFile(t, filepath.Join(modeltest.RepoRoot(), "model-repo", "ppocr_cls", "config.yaml"), filepath.Join(dir, "ppocr_cls", "config.yaml"))
	// The same model with a long batching window, so concurrent requests
	// are merged deterministically.
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_wait.onnx"))
	writeFile(t, filepath.Join(dir, "ppocr_wait.yaml"), "dynamic_batching:\n  max_queue_delay_microseconds: 300000\n")
	for _, m := range []string{"identity_all", "fixed_affine", "row_sum", "example_dynamic_axes", "example_multitype"} {
		copyFile(t, modeltest.Path(t, m+".onnx"), filepath.Join(dir, m+".onnx"))
	}
	writeFile(t, filepath.Join(dir, "broken.onnx"), "this is not an ONNX file")
	writeFile(t, filepath.Join(dir, "notes.txt"), "ignored")
	writeFile(t, filepath.Join(dir, ".hidden.onnx"), "ignored too")
	return dir
}

func startNode(t testing.TB, dir string, tweak func(*config.Serve)) *testNode {
	t.Helper()
	return startNodeWith(t, dir, tweak, nodeOptions{})
}

// startNodeWith is startNode with options beyond the config.
func startNodeWith(t testing.TB, dir string, tweak func(*config.Serve), nopt nodeOptions) *testNode {
	t.Helper()
	cfg := config.DefaultServe()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "" // tests that speak gRPC ask for a free port
	cfg.ModelsDir = dir
	cfg.LogLevel = "warn"
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // after the node stops
	n, err := newNodeWith(ctx, cfg, newLogger(cfg, io.Discard), nopt)
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, n)
	return &testNode{url: "http://" + n.Addr(), dir: dir, n: n}
}

// runNode runs a built node until the test ends.
func runNode(t testing.TB, n *node) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node run: %v", err)
		}
	})
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (tn *testNode) do(t *testing.T, method, path string, body []byte, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, tn.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

// infer sends an encoded request and decodes a 200 response.
func (tn *testNode) infer(t *testing.T, path string, req *api.InferRequest, binaryIn bool) *api.InferResponse {
	t.Helper()
	r := tn.send(t, path, req, binaryIn)
	if r.status != http.StatusOK {
		t.Fatalf("POST %s: status %d: %s", path, r.status, r.body)
	}
	hl := -1
	if v := r.header.Get("Inference-Header-Content-Length"); v != "" {
		hl, _ = strconv.Atoi(v)
	}
	resp, err := api.DecodeInferResponse(r.body, hl)
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return resp
}

func (tn *testNode) send(t *testing.T, path string, req *api.InferRequest, binaryIn bool) httpResult {
	t.Helper()
	body, hl := api.AppendInferRequest(nil, req, binaryIn)
	h := map[string]string{}
	if hl < len(body) {
		h["Inference-Header-Content-Length"] = strconv.Itoa(hl)
	}
	return tn.do(t, http.MethodPost, path, body, h)
}

// errorBody checks an error response: the status, JSON content, and that
// the message contains want.
func errorBody(t *testing.T, r httpResult, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	var e api.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Errorf("error body %q is not {\"error\": ...}: %v", r.body, err)
		return
	}
	if !bytes.Contains([]byte(e.Error), []byte(want)) {
		t.Errorf("error = %q, want it to contain %q", e.Error, want)
	}
}

// clsInput returns a random PaddleOCR input of n images.
func clsInput(rng *rand.Rand, n int) tensor.Tensor {
	v := make([]float32, n*3*48*192)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{int64(n), 3, 48, 192}, Data: modeltest.F32Bytes(v...)}
}

// relDiff is the largest relative difference between two float vectors.
func relDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if s := math.Max(math.Abs(float64(a[i])), math.Abs(float64(b[i]))); s > 0 {
			d /= s
		}
		worst = math.Max(worst, d)
	}
	return worst
}

func modelStats(t *testing.T, tn *testNode, model string) api.ModelStatistics {
	t.Helper()
	r := tn.do(t, http.MethodGet, "/v2/models/"+model+"/stats", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	var s api.ModelStatsResponse
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.ModelStats) != 1 {
		t.Fatalf("stats for %s: %d entries", model, len(s.ModelStats))
	}
	return s.ModelStats[0]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint("unexpected error: ", err))
	}
	return v
}
