package onnx_test

import (
	"context"
	"testing"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

func open(t *testing.T, path string) (*onnx.Session, models.IO) {
	t.Helper()
	modeltest.InitRuntime(t)
	io, err := onnx.ReadIO(path, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := onnx.Open(path, io, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, io
}

func TestReadIO(t *testing.T) {
	modeltest.InitRuntime(t)
	tests := []struct {
		file      string
		batchable bool
		in0       models.TensorSpec
	}{
		{"row_sum.onnx", true, models.TensorSpec{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, -1}}},
		{"fixed_affine.onnx", false, models.TensorSpec{Name: "x", DataType: tensor.FP32, Shape: []int64{2, 3}}},
		{"example_multitype.onnx", false, models.TensorSpec{Name: "InputA", DataType: tensor.Uint8, Shape: []int64{1, 1, 1}}},
		{"identity_all.onnx", true, models.TensorSpec{Name: "in_bool", DataType: tensor.Bool, Shape: []int64{-1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			io, err := onnx.ReadIO(modeltest.Path(t, tt.file), onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := io.HasBatchAxis(); got != tt.batchable {
				t.Errorf("HasBatchAxis = %v, want %v", got, tt.batchable)
			}
			got := io.Inputs[0]
			if got.Name != tt.in0.Name || got.DataType != tt.in0.DataType || tensor.FormatShape(got.Shape) != tensor.FormatShape(tt.in0.Shape) {
				t.Errorf("input 0 = %+v, want %+v", got, tt.in0)
			}
		})
	}
}

func TestRunRowSum(t *testing.T) {
	s, _ := open(t, modeltest.Path(t, "row_sum.onnx"))
	in := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{2, 3}, Data: modeltest.F32Bytes(1, 2, 3, 4, 5, 6)}
	out, err := s.Run(context.Background(), []tensor.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	if got := modeltest.F32s(out[0].Data); len(got) != 2 || got[0] != 6 || got[1] != 15 {
		t.Errorf("s = %v %v, want [6 15] shape [2,1]", got, out[0].Shape)
	}
	if got := modeltest.F32s(out[1].Data); len(got) != 6 || got[5] != 18 {
		t.Errorf("y = %v, want 3x", got)
	}
}

func TestRunIdentityAllTypes(t *testing.T) {
	s, io := open(t, modeltest.Path(t, "identity_all.onnx"))
	inputs := make([]tensor.Tensor, len(io.Inputs))
	for i, spec := range io.Inputs {
		in := tensor.Tensor{Name: spec.Name, DataType: spec.DataType, Shape: []int64{3, 2}}
		if spec.DataType == tensor.Bytes {
			in.Strings = [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte(""), []byte("e"), []byte("f")}
		} else {
			in.Data = make([]byte, 6*spec.DataType.Size())
			for j := range in.Data {
				in.Data[j] = byte(j % 2) // valid for BOOL too
			}
		}
		inputs[i] = in
	}
	out, err := s.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.DataType != inputs[i].DataType || tensor.FormatShape(o.Shape) != "[3,2]" {
			t.Errorf("%s: %s %v", o.Name, o.DataType, o.Shape)
		}
		if string(o.Data) != string(inputs[i].Data) || len(o.Strings) != len(inputs[i].Strings) {
			t.Errorf("%s: output differs from input", o.Name)
		}
	}
}

func TestFindLibraryExplicitMissing(t *testing.T) {
	if _, err := onnx.FindLibrary("/nonexistent/libonnxruntime.so.1"); err == nil {
		t.Fatal("FindLibrary with a missing explicit path: want error")
	}
}
