package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/front"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/tensor"
)

// BenchmarkInfer measures the front's cost per request over the local
// backend (parameters, lookup, input checks, schedule, the batcher, the
// response) on a session that costs nothing: serial, and from 16
// goroutines.
func BenchmarkInfer(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.onnx"), []byte("ok 1"), 0o644); err != nil {
		b.Fatal(err)
	}
	e := New(&fakeOpener{}, Options{Dir: dir, DefaultMaxBatchSize: 16, ModelControl: ControlNone})
	if err := e.LoadAll(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	f := front.New(e, front.Options{})
	x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 1}, Data: modeltest.F32Bytes(0)}
	infer := func() {
		if _, err := f.Infer(context.Background(), "m", "", &api.InferRequest{Inputs: []tensor.Tensor{x}}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			infer()
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				infer()
			}
		})
	})
}
