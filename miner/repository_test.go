package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

func index(t *testing.T, tn *testNode, body string) map[string]api.RepositoryIndexEntry {
	t.Helper()
	r := tn.do(t, http.MethodPost, "/v2/repository/index", []byte(body), nil)
	if r.status != 200 {
		t.Fatalf("index: %d %s", r.status, r.body)
	}
	var rows []api.RepositoryIndexEntry
	if err := json.Unmarshal(r.body, &rows); err != nil {
		t.Fatal(err)
	}
	m := map[string]api.RepositoryIndexEntry{}
	for _, row := range rows {
		m[row.Name+"/"+row.Version] = row
	}
	return m
}

func TestRepositoryIndex(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	rows := index(t, tn, "")
	if got := rows["ppocr_cls/1"].State; got != api.StateReady {
		t.Errorf("ppocr_cls/1 state %q, want READY", got)
	}
	broken := rows["broken/1"]
	if broken.State != api.StateUnavailable || !strings.Contains(broken.Reason, "broken.onnx") {
		t.Errorf("broken/1 = %+v, want UNAVAILABLE with the load error", broken)
	}
	if _, ok := rows["notes/"]; ok {
		t.Errorf("index lists notes.txt")
	}
	ready := index(t, tn, `{"ready":true}`)
	if _, ok := ready["broken/1"]; ok || len(ready) != 7 {
		t.Errorf("ready index = %v, want the 7 ready models only", ready)
	}
	errorBody(t, tn.do(t, http.MethodPost, "/v2/repository/index", []byte(`{"ready":"yes"}`), nil), 400, "invalid JSON")
	errorBody(t, tn.do(t, http.MethodPost, "/v2/repository/index", []byte(`{"bogus":1}`), nil), 400, "unknown field")
}

func TestUnloadAndLoad(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: modeltest.F32Bytes(1, 2)}
	req := &api.InferRequest{Inputs: []tensor.Tensor{x}}
	tn.infer(t, "/v2/models/row_sum/infer", req, false)

	if r := tn.do(t, http.MethodPost, "/v2/repository/models/row_sum/unload", nil, nil); r.status != 200 {
		t.Fatalf("unload: %d %s", r.status, r.body)
	}
	errorBody(t, tn.send(t, "/v2/models/row_sum/infer", req, false), 404, "unknown model")
	errorBody(t, tn.do(t, http.MethodGet, "/v2/models/row_sum/ready", nil, nil), 404, "unknown model")
	if got := index(t, tn, "")["row_sum/1"]; got.State != api.StateUnavailable || got.Reason != "unloaded" {
		t.Errorf("index after unload = %+v", got)
	}
	if r := tn.do(t, http.MethodPost, "/v2/repository/models/row_sum/load", nil, nil); r.status != 200 {
		t.Fatalf("load: %d %s", r.status, r.body)
	}
	resp := tn.infer(t, "/v2/models/row_sum/infer", req, false)
	if got := modeltest.F32s(resp.Outputs[0].Data); len(got) != 1 || got[0] != 3 {
		t.Errorf("row_sum after reload = %v, want [3]", got)
	}
	errorBody(t, tn.do(t, http.MethodPost, "/v2/repository/models/nope/load", nil, nil), 400, "no such model")
	errorBody(t, tn.do(t, http.MethodPost, "/v2/repository/models/nope/unload", nil, nil), 400, "not known")
	errorBody(t, tn.do(t, http.MethodPost, "/v2/repository/models/row_sum/load", []byte(`{"parameters":{"config":"{}"}}`), nil), 400, "not supported")
}

// TestFailedReloadKeepsServing replaces a serving model with a broken newer
// version: the load fails, and the old version keeps answering.
func TestFailedReloadKeepsServing(t *testing.T) {
	dir := standardRepo(t)
	tn := startNode(t, dir, nil)
	in := clsInput(rand.New(rand.NewPCG(5, 6)), 1)
	req := &api.InferRequest{Inputs: []tensor.Tensor{in}}
	want := tn.infer(t, "/v2/models/ppocr_cls/infer", req, true)

	writeFile(t, filepath.Join(dir, "ppocr_cls", "2", "model.onnx"), "truncated garbage")
	r := tn.do(t, http.MethodPost, "/v2/repository/models/ppocr_cls/load", nil, nil)
	errorBody(t, r, 400, "failed to load 'ppocr_cls'")
	got := tn.infer(t, "/v2/models/ppocr_cls/infer", req, true)
	if got.ModelVersion != "1" || !bytes.Equal(got.Outputs[0].Data, want.Outputs[0].Data) {
		t.Errorf("after failed reload: version %s, outputs changed", got.ModelVersion)
	}
	rows := index(t, tn, "")
	if rows["ppocr_cls/2"].State != api.StateUnavailable || rows["ppocr_cls/1"].State != api.StateReady {
		t.Errorf("index = %+v / %+v, want version 2 UNAVAILABLE, version 1 READY", rows["ppocr_cls/2"], rows["ppocr_cls/1"])
	}

	// A good version 2 replaces version 1.
	copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, "ppocr_cls", "2", "model.onnx"))
	if r := tn.do(t, http.MethodPost, "/v2/repository/models/ppocr_cls/load", nil, nil); r.status != 200 {
		t.Fatalf("load: %d %s", r.status, r.body)
	}
	if got := tn.infer(t, "/v2/models/ppocr_cls/infer", req, true); got.ModelVersion != "2" {
		t.Errorf("served version %s, want 2", got.ModelVersion)
	}
	errorBody(t, tn.do(t, http.MethodGet, "/v2/models/ppocr_cls/versions/1/ready", nil, nil), 503, "no longer selected")
	if err := os.RemoveAll(filepath.Join(dir, "ppocr_cls", "2")); err != nil {
		t.Fatal(err)
	}
}

func TestStatsAndMetrics(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{3, 2}, Data: modeltest.F32Bytes(1, 2, 3, 4, 5, 6)}
	tn.infer(t, "/v2/models/row_sum/infer", &api.InferRequest{Inputs: []tensor.Tensor{x}}, false)
	s := modelStats(t, tn, "row_sum")
	if s.InferenceCount != 3 || s.ExecutionCount != 1 || s.InferenceStats.Success.Count != 1 || len(s.BatchStats) != 1 || s.BatchStats[0].BatchSize != 3 {
		t.Errorf("stats = %+v, want 3 items in 1 execution of batch 3", s)
	}
	if s.LastInference == 0 || s.InferenceStats.ComputeInfer.Ns == 0 {
		t.Errorf("stats lack timings: %+v", s.InferenceStats)
	}
	r := tn.do(t, http.MethodGet, "/v2/models/stats", nil, nil)
	var all api.ModelStatsResponse
	if err := json.Unmarshal(r.body, &all); err != nil || len(all.ModelStats) != 7 {
		t.Errorf("all stats: %d models (%v), want 7", len(all.ModelStats), err)
	}
	errorBody(t, tn.do(t, http.MethodGet, "/v2/models/nope/stats", nil, nil), 404, "unknown model")
	m := tn.do(t, http.MethodGet, "/metrics", nil, nil)
	for _, want := range []string{`taominer_inference_count_total{model="row_sum",version="1"} 3`, `taominer_inference_exec_count_total{model="row_sum",version="1"} 1`, "process_resident_memory_bytes",
		`taominer_model_ready{model="row_sum",version="1"} 1`, `taominer_model_ready{model="broken",version="1"} 0`,
		`taominer_model_load_failures_total{model="broken"} 1`} {
		if !bytes.Contains(m.body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
