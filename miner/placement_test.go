package main

import (
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/kernels/nvml"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// TestInstancesOnCPU runs the real classifier with instances: 2 on the CPU
// under concurrent load. Dispatch sends a batch to instance 1 only while
// instance 0 has one in flight (least-loaded, ties to the lowest index),
// so an execution count above zero on both instances proves that two
// batches ran at once, with no timing involved. Every answer must equal
// the same input run on a single-instance copy of the model.
func TestInstancesOnCPU(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"cls_one", "cls_two", "cls_auto"} {
		copyFile(t, modeltest.PaddleOCRClsPath(t), filepath.Join(dir, m+".onnx"))
	}
	writeFile(t, filepath.Join(dir, "cls_two.yaml"), "instances: 2\n")
	writeFile(t, filepath.Join(dir, "cls_auto.yaml"), "instance_group: [{count: 2}]\ngpus: auto\n")
	tn := startNode(t, dir, nil)

	const clients = 6
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := make([]tensor.Tensor, clients)
	solo := make([][]float32, clients)
	for i := range inputs {
		inputs[i] = clsInput(rng, 1+i%2)
		resp := tn.infer(t, "/v2/models/cls_one/infer", &api.InferRequest{Inputs: []tensor.Tensor{inputs[i]}}, true)
		solo[i] = modeltest.F32s(resp.Outputs[0].Data)
	}

	both := func() bool {
		st, err := tn.n.engine.Instances("cls_two", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 2 {
			t.Fatalf("cls_two has %d instances, want 2", len(st))
		}
		return st[0].Executions > 0 && st[1].Executions > 0
	}
	worst := 0.0
	for round := 0; round < 50 && !both(); round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range inputs {
			wg.Go(func() {
				resp := tn.infer(t, "/v2/models/cls_two/infer", &api.InferRequest{Inputs: []tensor.Tensor{inputs[i]}}, true)
				d := relDiff(modeltest.F32s(resp.Outputs[0].Data), solo[i])
				mu.Lock()
				worst = max(worst, d)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	if !both() {
		t.Fatalf("instance 1 never ran under concurrent load: %+v", must(tn.n.engine.Instances("cls_two", "")))
	}
	if worst > 1e-5 {
		t.Errorf("two-instance results differ from the single instance by %g, want <= 1e-5", worst)
	}
	st := must(tn.n.engine.Instances("cls_two", ""))
	total := uint64(0)
	for _, s := range st {
		total += s.Executions
		if s.Device != "cpu" {
			t.Errorf("instance on %s, want cpu", s.Device)
		}
	}
	if ms := modelStats(t, tn, "cls_two"); ms.ExecutionCount != total {
		t.Errorf("execution_count %d, but the instances ran %d batches", ms.ExecutionCount, total)
	}
	t.Logf("instances: %+v; largest difference from one instance %g", st, worst)

	// gpus: auto on a machine without a GPU runs every instance on the CPU.
	if src, err := nvml.Open(); err == nil {
		src.Close()
		t.Skip("NVML found a GPU: gpus: auto would place on it")
	}
	auto := must(tn.n.engine.Instances("cls_auto", ""))
	if len(auto) != 2 || auto[0].Device != "cpu" || auto[1].Device != "cpu" {
		t.Errorf("cls_auto instances = %+v, want two on cpu", auto)
	}
	resp := tn.infer(t, "/v2/models/cls_auto/infer", &api.InferRequest{Inputs: []tensor.Tensor{inputs[0]}}, true)
	if d := relDiff(modeltest.F32s(resp.Outputs[0].Data), solo[0]); d > 1e-5 {
		t.Errorf("cls_auto differs from cls_one by %g", d)
	}
}
