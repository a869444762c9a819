package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

func TestHealthAndMetadata(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	tests := []struct {
		name, path string
		status     int
		contains   string
	}{
		{"live", "/v2/health/live", 200, ""},
		{"ready", "/v2/health/ready", 200, ""},
		{"server metadata", "/v2", 200, `"extensions":["binary_tensor_data","model_repository","statistics"]`},
		{"model metadata", "/v2/models/ppocr_cls", 200, `"inputs":[{"name":"x","datatype":"FP32","shape":[-1,3,48,192]}]`},
		{"metadata without config", "/v2/models/ppocr_wait", 200, `"inputs":[{"name":"x","datatype":"FP32","shape":[-1,3,-1,-1]}]`},
		{"model version metadata", "/v2/models/ppocr_cls/versions/1", 200, `"platform":"onnxruntime_onnx"`},
		{"dropped-in file", "/v2/models/row_sum", 200, `"versions":["1"]`},
		{"model ready", "/v2/models/ppocr_cls/ready", 200, ""},
		{"version ready", "/v2/models/ppocr_cls/versions/1/ready", 200, ""},
		{"unknown model", "/v2/models/nope", 404, `unknown model: 'nope'`},
		{"unknown model ready", "/v2/models/nope/ready", 404, `unknown model`},
		{"unknown version", "/v2/models/ppocr_cls/versions/7", 404, `unknown version '7'`},
		{"bad version", "/v2/models/ppocr_cls/versions/x1", 404, `unknown version 'x1'`},
		{"broken model", "/v2/models/broken", 503, `not ready`},
		{"broken model ready", "/v2/models/broken/ready", 503, `not ready`},
		{"ignored txt", "/v2/models/notes", 404, "unknown model"},
		{"ignored dot file", "/v2/models/.hidden", 404, "unknown model"},
		{"no such route", "/v3/whatever", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tn.do(t, http.MethodGet, tt.path, nil, nil)
			if r.status != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, r.status, r.body, tt.status)
			}
			if tt.status >= 400 {
				errorBody(t, r, tt.status, tt.contains)
			} else if !bytes.Contains(r.body, []byte(tt.contains)) {
				t.Errorf("GET %s body %s, want it to contain %s", tt.path, r.body, tt.contains)
			}
		})
	}
	r := tn.do(t, http.MethodDelete, "/v2/health/live", nil, nil)
	errorBody(t, r, http.StatusMethodNotAllowed, "not allowed")
}

// TestInferPaddleOCR checks JSON, binary and raw-binary requests to the real
// classifier against one reference: a batch-1 JSON request.
func TestInferPaddleOCR(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	rng := rand.New(rand.NewPCG(1, 2))
	in := clsInput(rng, 1)
	ref := tn.infer(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{ID: "req-7", Inputs: []tensor.Tensor{in}}, false)
	if ref.ID != "req-7" || ref.ModelName != "ppocr_cls" || ref.ModelVersion != "1" {
		t.Errorf("response header = %q %q %q, want id req-7, model ppocr_cls version 1", ref.ID, ref.ModelName, ref.ModelVersion)
	}
	if len(ref.Outputs) != 1 || tensor.FormatShape(ref.Outputs[0].Shape) != "[1,2]" || ref.Outputs[0].Binary {
		t.Fatalf("outputs = %+v, want one JSON [1,2]", ref.Outputs)
	}
	p := modeltest.F32s(ref.Outputs[0].Data)
	if s := p[0] + p[1]; s < 0.999 || s > 1.001 {
		t.Errorf("softmax %v sums to %v, want 1", p, s)
	}

	t.Run("binary in and out", func(t *testing.T) {
		resp := tn.infer(t, "/v2/models/ppocr_cls/versions/1/infer", &api.InferRequest{Inputs: []tensor.Tensor{in}, BinaryOutput: true}, true)
		if !resp.Outputs[0].Binary {
			t.Errorf("output not binary")
		}
		if d := relDiff(modeltest.F32s(resp.Outputs[0].Data), p); d > 1e-6 {
			t.Errorf("binary result differs from JSON result by %g", d)
		}
	})
	t.Run("raw binary", func(t *testing.T) {
		r := tn.do(t, http.MethodPost, "/v2/models/ppocr_cls/infer", in.Data, map[string]string{"Inference-Header-Content-Length": "0"})
		if r.status != 200 {
			t.Fatalf("raw request: %d %s", r.status, r.body)
		}
		hl, _ := strconv.Atoi(r.header.Get("Inference-Header-Content-Length"))
		if d := relDiff(modeltest.F32s(must(api.DecodeInferResponse(r.body, hl)).Outputs[0].Data), p); d > 1e-6 {
			t.Errorf("raw binary result differs from JSON result by %g", d)
		}
		// Raw mode on a model with variable H and W is ambiguous: refused.
		r = tn.do(t, http.MethodPost, "/v2/models/ppocr_wait/infer", in.Data, map[string]string{"Inference-Header-Content-Length": "0"})
		errorBody(t, r, 400, "more than one variable dimension")
		r = tn.do(t, http.MethodPost, "/v2/models/example_dynamic_axes/infer", modeltest.F32Bytes(make([]float32, 10)...), map[string]string{"Inference-Header-Content-Length": "0"})
		if r.status != 200 {
			t.Fatalf("raw request: %d %s", r.status, r.body)
		}
		hl, _ = strconv.Atoi(r.header.Get("Inference-Header-Content-Length"))
		resp := must(api.DecodeInferResponse(r.body, hl))
		if got := tensor.FormatShape(resp.Outputs[0].Shape); got != "[1]" || !resp.Outputs[0].Binary {
			t.Errorf("raw response output shape %s binary %v, want [1] binary", got, resp.Outputs[0].Binary)
		}
	})
	t.Run("wrong image size", func(t *testing.T) {
		small := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 3, 48, 100}, Data: make([]byte, 4*3*48*100)}
		errorBody(t, tn.send(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{Inputs: []tensor.Tensor{small}}, true), 400, "shape [1,3,48,100] does not match the model's [-1,3,48,192]")
	})
	t.Run("client batch of 3", func(t *testing.T) {
		batch := clsInput(rng, 3)
		copy(batch.Data, in.Data) // first image is the reference image
		resp := tn.infer(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{Inputs: []tensor.Tensor{batch}}, true)
		got := modeltest.F32s(resp.Outputs[0].Data)
		if len(got) != 6 {
			t.Fatalf("got %d values, want 6", len(got))
		}
		if d := relDiff(got[:2], p); d > 1e-5 {
			t.Errorf("item 0 of a batch differs from the solo run by %g", d)
		}
	})
}

// TestBatchingMatchesSoloRuns sends concurrent single requests to a model
// with a batching window: they must be merged (execution_count < N) and each
// answer must equal the same input run alone.
func TestBatchingMatchesSoloRuns(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	const n = 12
	rng := rand.New(rand.NewPCG(3, 4))
	inputs := make([]tensor.Tensor, n)
	solo := make([][]float32, n)
	for i := range inputs {
		// Mixed request sizes: batch 1, and a few of batch 2.
		size := 1
		if i%4 == 3 {
			size = 2
		}
		inputs[i] = clsInput(rng, size)
		resp := tn.infer(t, "/v2/models/ppocr_cls/infer", &api.InferRequest{Inputs: []tensor.Tensor{inputs[i]}}, true)
		solo[i] = modeltest.F32s(resp.Outputs[0].Data)
	}
	before := modelStats(t, tn, "ppocr_wait")
	got := make([][]float32, n)
	var wg sync.WaitGroup
	for i := range inputs {
		wg.Go(func() {
			resp := tn.infer(t, "/v2/models/ppocr_wait/infer", &api.InferRequest{Inputs: []tensor.Tensor{inputs[i]}, BinaryOutput: i%2 == 0}, i%3 == 0)
			got[i] = modeltest.F32s(resp.Outputs[0].Data)
		})
	}
	wg.Wait()
	worst := 0.0
	items := 0
	for i := range got {
		if len(got[i]) != len(solo[i]) {
			t.Fatalf("request %d: %d values, want %d", i, len(got[i]), len(solo[i]))
		}
		worst = max(worst, relDiff(got[i], solo[i]))
		items += len(solo[i]) / 2
	}
	t.Logf("largest relative difference batched vs solo: %g", worst)
	if worst > 1e-5 {
		t.Errorf("batched results differ from solo runs by %g, want <= 1e-5", worst)
	}
	after := modelStats(t, tn, "ppocr_wait")
	execs := after.ExecutionCount - before.ExecutionCount
	inferred := after.InferenceCount - before.InferenceCount
	if execs >= n {
		t.Errorf("execution_count grew by %d for %d requests, want fewer (merged)", execs, n)
	}
	if inferred != uint64(items) {
		t.Errorf("inference_count grew by %d, want %d items", inferred, items)
	}
	t.Logf("%d requests (%d items) ran in %d executions", n, items, execs)
}

func TestAllDataTypes(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	md := tn.do(t, http.MethodGet, "/v2/models/identity_all", nil, nil)
	var meta api.ModelMetadata
	if err := json.Unmarshal(md.body, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Inputs) != 14 {
		t.Fatalf("identity_all has %d inputs, want 14", len(meta.Inputs))
	}
	req := &api.InferRequest{}
	for _, in := range meta.Inputs {
		dt := must(tensor.ParseDataType(in.Datatype))
		tt := tensor.Tensor{Name: in.Name, DataType: dt, Shape: []int64{2, 2}}
		if dt == tensor.Bytes {
			tt.Strings = [][]byte{[]byte("a"), []byte("ü"), []byte(""), []byte(`"q"`)}
		} else {
			tt.Data = make([]byte, 4*dt.Size())
			for i := range tt.Data {
				tt.Data[i] = byte(i % 2) // 0/1 patterns: valid in every type, BOOL included
			}
			if dt == tensor.FP32 || dt == tensor.FP64 || dt == tensor.FP16 || dt == tensor.BF16 {
				tt.Data = make([]byte, 4*dt.Size()) // zeros round-trip in every float type
			}
		}
		req.Inputs = append(req.Inputs, tt)
	}
	for _, mode := range []struct {
		name             string
		binaryIn, binOut bool
	}{{"json", false, false}, {"binary", true, true}, {"binary in json out", true, false}} {
		t.Run(mode.name, func(t *testing.T) {
			req.BinaryOutput = mode.binOut
			resp := tn.infer(t, "/v2/models/identity_all/infer", req, mode.binaryIn)
			for _, in := range req.Inputs {
				name := "out_" + strings.TrimPrefix(in.Name, "in_")
				i := slices.IndexFunc(resp.Outputs, func(o api.ResponseOutput) bool { return o.Name == name })
				if i < 0 {
					t.Fatalf("no output %s", name)
				}
				o := resp.Outputs[i]
				if o.DataType != in.DataType || !bytes.Equal(o.Data, in.Data) || len(o.Strings) != len(in.Strings) {
					t.Errorf("%s: got %s %v %v, want %s %v %q", name, o.DataType, o.Data, o.Strings, in.DataType, in.Data, in.Strings)
				}
				for k := range in.Strings {
					if !bytes.Equal(o.Strings[k], in.Strings[k]) {
						t.Errorf("%s[%d] = %q, want %q", name, k, o.Strings[k], in.Strings[k])
					}
				}
			}
		})
	}
	t.Run("requested outputs only", func(t *testing.T) {
		r := *req
		f := false
		r.Outputs = []api.RequestedOutput{{Name: "out_int64", Binary: &f}, {Name: "out_bytes"}}
		resp := tn.infer(t, "/v2/models/identity_all/infer", &r, false)
		if len(resp.Outputs) != 2 || resp.Outputs[0].Name != "out_int64" || resp.Outputs[1].Name != "out_bytes" {
			t.Errorf("outputs = %v, want out_int64, out_bytes in that order", resp.Outputs)
		}
	})
}

func TestNoBatchAxisModel(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{2, 3}, Data: modeltest.F32Bytes(0, 1, 2, 3, 4, 5)}
	resp := tn.infer(t, "/v2/models/fixed_affine/infer", &api.InferRequest{Inputs: []tensor.Tensor{x}}, false)
	if got := modeltest.F32s(resp.Outputs[0].Data); !slices.Equal(got, []float32{1, 3, 5, 7, 9, 11}) {
		t.Errorf("y = %v, want 2x+1", got)
	}
	x.Shape, x.Data = []int64{1, 3}, x.Data[:12]
	errorBody(t, tn.send(t, "/v2/models/fixed_affine/infer", &api.InferRequest{Inputs: []tensor.Tensor{x}}, false), 400, "does not match the model's [2,3]")
}

func TestBadRequests(t *testing.T) {
	tn := startNode(t, standardRepo(t), func(c *config.Serve) { c.MaxBodyBytes = 1 << 20 })
	good := `{"inputs":[{"name":"input_vectors","shape":[1,10],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10]}]}`
	binHeader := `{"inputs":[{"name":"input_vectors","shape":[1,10],"datatype":"FP32","parameters":{"binary_data_size":40}}]}`
	tests := []struct {
		name, path, body string
		header           map[string]string
		status           int
		want             string
	}{
		{"wrong dtype", "example_dynamic_axes", strings.Replace(good, "FP32", "FP64", 1), nil, 400, "datatype FP64, expected FP32"},
		{"wrong shape", "example_dynamic_axes", strings.Replace(good, "[1,10]", "[2,5]", 1), nil, 400, "shape [2,5] does not match the model's [-1,10]"},
		{"too few elements", "example_dynamic_axes", strings.Replace(good, "9,10", "9", 1), nil, 400, "10 elements"},
		{"unknown datatype", "example_dynamic_axes", strings.Replace(good, "FP32", "FLOAT", 1), nil, 400, "FLOAT"},
		{"not json", "example_dynamic_axes", "hello", nil, 400, ""},
		{"empty body", "example_dynamic_axes", "", nil, 400, ""},
		{"unknown input", "example_dynamic_axes", strings.Replace(good, "input_vectors", "vectors", 1), nil, 400, "unexpected inference input 'vectors'"},
		{"missing input", "identity_all", good, nil, 400, "unexpected inference input"},
		{"unknown output", "example_dynamic_axes", strings.Replace(good, "]}]}", `]}],"outputs":[{"name":"nope"}]}`, 1), nil, 400, "unexpected inference output 'nope'"},
		{"batch too large", "example_dynamic_axes", `{"inputs":[{"name":"input_vectors","shape":[17,10],"datatype":"FP32","data":[` + strings.TrimSuffix(strings.Repeat("0,", 170), ",") + `]}]}`, nil, 400, "exceeds max_batch_size 16"},
		{"truncated binary", "example_dynamic_axes", binHeader + strings.Repeat("\x00", 39), map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(binHeader))}, 400, "binary"},
		{"binary header length beyond body", "example_dynamic_axes", binHeader, map[string]string{"Inference-Header-Content-Length": "100000"}, 400, "Inference-Header-Content-Length"},
		{"bad binary header length", "example_dynamic_axes", binHeader, map[string]string{"Inference-Header-Content-Length": "x"}, 400, "Inference-Header-Content-Length"},
		{"raw binary wrong size", "example_dynamic_axes", "abc", map[string]string{"Inference-Header-Content-Length": "0"}, 400, "raw binary"},
		{"unsupported extension", "example_dynamic_axes", strings.Replace(good, "]}]}", `]}],"outputs":[{"name":"output_scalars","parameters":{"classification":2}}]}`, 1), nil, 400, "classification extension is not supported"},
		{"shared memory", "example_dynamic_axes", strings.Replace(good, `"data"`, `"parameters":{"shared_memory_region":"r"},"data"`, 1), nil, 400, "shared-memory"},
		{"unknown model", "nope", good, nil, 404, "unknown model: 'nope'"},
		{"broken model", "broken", good, nil, 503, "not ready"},
		{"oversized body", "example_dynamic_axes", `{"inputs":[{"name":"input_vectors","shape":[1,10],"datatype":"FP32","data":[` + strings.Repeat(" ", 2<<20) + `1]}]}`, nil, 413, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tn.do(t, http.MethodPost, "/v2/models/"+tt.path+"/infer", []byte(tt.body), tt.header)
			errorBody(t, r, tt.status, tt.want)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			// The server keeps serving after every bad request.
			if ok := tn.do(t, http.MethodPost, "/v2/models/example_dynamic_axes/infer", []byte(good), nil); ok.status != 200 {
				t.Fatalf("good request after %s: %d %s", tt.name, ok.status, ok.body)
			}
		})
	}
	// The version route refuses an unknown version.
	errorBody(t, tn.do(t, http.MethodPost, "/v2/models/example_dynamic_axes/versions/2/infer", []byte(good), nil), 404, "unknown version '2'")
}
