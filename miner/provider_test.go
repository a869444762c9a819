package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// TestServeProviderUnavailable runs the miner on this CPU-only ONNX Runtime
// with models that ask for a GPU provider: without a fallback the model is
// UNAVAILABLE with a reason in the index that says the library has no such
// provider and what to use instead, with fallback: cpu
// it serves on the CPU, and the other models serve either way.
func TestServeProviderUnavailable(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"row_sum", "cuda_strict", "trt_strict", "cuda_fallback"} {
		copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(dir, m+".onnx"))
	}
	writeFile(t, filepath.Join(dir, "cuda_strict.yaml"), "execution_provider: cuda\ndevice_id: 0\n")
	writeFile(t, filepath.Join(dir, "trt_strict.yaml"), "execution_provider: tensorrt\n")
	writeFile(t, filepath.Join(dir, "cuda_fallback.yaml"), "execution_provider: cuda\nfallback: cpu\n")
	tn := startNode(t, dir, nil)

	rows := index(t, tn, "")
	for _, tt := range []struct{ model, provider string }{{"cuda_strict", "cuda"}, {"trt_strict", "tensorrt"}} {
		r := rows[tt.model+"/1"]
		if r.State != api.StateUnavailable || !strings.Contains(r.Reason, "execution_provider "+tt.provider+": the ONNX Runtime library ") ||
			!strings.Contains(r.Reason, "provider (libonnxruntime_providers_shared.so is not beside it: this is a CPU build); use the GPU build of ONNX Runtime") ||
			!strings.Contains(r.Reason, "fallback: cpu") {
			t.Errorf("%s = %+v, want UNAVAILABLE saying the library has no %s provider and what to use instead", tt.model, r, tt.provider)
		}
	}
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: modeltest.F32Bytes(1, 2)}
	for _, m := range []string{"row_sum", "cuda_fallback"} {
		if r := rows[m+"/1"]; r.State != api.StateReady {
			t.Errorf("%s = %+v, want READY", m, r)
		}
		resp := tn.infer(t, "/v2/models/"+m+"/infer", &api.InferRequest{Inputs: []tensor.Tensor{x}}, false)
		if got := modeltest.F32s(resp.Outputs[0].Data); len(got) != 1 || got[0] != 3 {
			t.Errorf("%s: row sum %v, want [3]", m, got)
		}
	}
}
