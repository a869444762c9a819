package engine

import (
	"context"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

var _ front.Expecter = (*Engine)(nil)

// TestExpect checks that the engine announces requests to a batching
// version's batcher and nothing for an unknown model, and that an
// announced request runs (at once: nothing else is announced).
func TestExpect(t *testing.T) {
	e, _, _ := startEngine(t, map[string]string{"a.onnx": "ok 7"}, ControlNone)
	f := front.New(e, front.Options{})
	ctx := context.Background()
	if got, done := f.Expect(ctx, "missing", ""); got != ctx {
		t.Error("Expect for an unknown model announced something")
	} else {
		done()
	}
	actx, done := f.Expect(ctx, "a", "")
	defer done()
	if actx == ctx {
		t.Fatal("Expect for model a announced nothing; want an announcement to its batcher")
	}
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 1}, Data: modeltest.F32Bytes(0)}
	resp, err := f.Infer(actx, "a", "", &api.InferRequest{Inputs: []tensor.Tensor{x}})
	if err != nil {
		t.Fatal(err)
	}
	if got := modeltest.F32s(resp.Outputs[0].Data); len(got) != 1 || got[0] != 7 {
		t.Errorf("output %v, want [7]", got)
	}
}
