package onnx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// BenchmarkBinding compares plain Run with an I/O binding on the PaddleOCR
// classifier (x FP32 [N,3,48,192]) at batch 1, 4 and 16, on the CPU:
//
//	go test -run '^$' -bench Binding -count 6 ./models/onnx | benchstat -col /mode -
func BenchmarkBinding(b *testing.B) {
	modeltest.InitRuntime(b)
	path := modeltest.PaddleOCRClsPath(b)
	io, err := onnx.ReadIO(path, onnx.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int64{1, 4, 16} {
		x := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{batch, 3, 48, 192}}
		x.Data = make([]byte, 4*tensor.NumElements(x.Shape))
		for i := range x.Data {
			x.Data[i] = byte(i % 7) // small positive floats
		}
		for _, mode := range []onnx.Binding{onnx.BindingRun, onnx.BindingIO} {
			b.Run(fmt.Sprintf("batch=%d/mode=%s/device=cpu", batch, mode), func(b *testing.B) {
				s, err := onnx.Open(path, io, onnx.Options{IntraOpThreads: 1, Binding: mode})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Run(context.Background(), []tensor.Tensor{x}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*int(batch))/b.Elapsed().Seconds(), "items/s")
			})
		}
	}
}
