package onnx_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// ortProviderError is part of the message this CPU-only ONNX Runtime gives
// when a GPU provider's shared library cannot be loaded.
const ortProviderError = "Failed to load"

// TestProviderGPUFailsWithoutLibrary checks that asking for a GPU provider
// on this CPU-only library fails the open with ONNX Runtime's own message.
func TestProviderGPUFailsWithoutLibrary(t *testing.T) {
	modeltest.InitRuntime(t)
	path := modeltest.Path(t, "row_sum.onnx")
	io, err := onnx.ReadIO(path, onnx.Options{ExecutionProvider: onnx.ProviderCUDA})
	if err != nil {
		t.Fatalf("ReadIO with cuda: %v (reading the graph needs no GPU)", err)
	}
	for _, p := range []string{onnx.ProviderCUDA, onnx.ProviderTensorRT} {
		t.Run(p, func(t *testing.T) {
			s, err := onnx.Open(path, io, onnx.Options{ExecutionProvider: p, DeviceID: 1})
			if err == nil {
				s.Close()
				t.Fatalf("Open on %s succeeded on a CPU-only library; want ONNX Runtime's error", p)
			}
			for _, want := range []string{p + " execution provider (device 1)", ortProviderError, "row_sum.onnx"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open on %s: error %q lacks %q", p, err, want)
				}
			}
		})
	}
}

func TestProviderFallbackCPU(t *testing.T) {
	modeltest.InitRuntime(t)
	path := modeltest.Path(t, "row_sum.onnx")
	io, err := onnx.ReadIO(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := onnx.Open(path, io, onnx.Options{ExecutionProvider: onnx.ProviderCUDA, Fallback: "cpu",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open with fallback: %v", err)
	}
	defer s.Close()
	if s.Provider() != onnx.ProviderCPU {
		t.Errorf("Provider() = %q, want cpu after the fallback", s.Provider())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "provider=cuda") ||
		!strings.Contains(lines[0], ortProviderError) {
		t.Errorf("log = %q, want one warning naming cuda and ONNX Runtime's error", logs.String())
	}
	in := tensor.Tensor{Name: "x", DataType: tensor.FP32, Shape: []int64{1, 2}, Data: modeltest.F32Bytes(1, 2)}
	out, err := s.Run(context.Background(), []tensor.Tensor{in})
	if err != nil {
		t.Fatal(err)
	}
	if got := modeltest.F32s(out[0].Data); len(got) != 1 || got[0] != 3 {
		t.Errorf("row sum = %v, want [3]", got)
	}
}

func TestProbe(t *testing.T) {
	modeltest.InitRuntime(t)
	for _, b := range []onnx.Binding{onnx.BindingRun, onnx.BindingIO} {
		got, err := onnx.Probe(context.Background(), onnx.ProviderCPU, 0, b)
		if err != nil {
			t.Fatalf("Probe cpu %s: %v", b, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(onnx.ProbeWant) {
			t.Errorf("Probe cpu %s = %v, want %v", b, got, onnx.ProbeWant)
		}
	}
	if _, err := onnx.Probe(context.Background(), onnx.ProviderCUDA, 0, onnx.BindingAuto); err == nil || !strings.Contains(err.Error(), ortProviderError) {
		t.Errorf("Probe cuda: err %v, want ONNX Runtime's load error", err)
	}
}

// sampleInputs builds deterministic inputs for a model: variable dimensions
// become batch, bytes alternate 0 and 1 (valid for BOOL too).
func sampleInputs(io models.IO, batch int64) []tensor.Tensor {
	ins := make([]tensor.Tensor, len(io.Inputs))
	for i, spec := range io.Inputs {
		shape := make([]int64, len(spec.Shape))
		for k, d := range spec.Shape {
			if d < 0 {
				d = batch
			}
			shape[k] = d
		}
		in := tensor.Tensor{Name: spec.Name, DataType: spec.DataType, Shape: shape}
		n := tensor.NumElements(shape)
		if spec.DataType == tensor.Bytes {
			for j := range n {
				in.Strings = append(in.Strings, []byte(fmt.Sprint(j)))
			}
		} else {
			in.Data = make([]byte, n*int64(spec.DataType.Size()))
			for j := range in.Data {
				in.Data[j] = byte(j % 2)
			}
		}
		ins[i] = in
	}
	return ins
}

// TestBindingModesAgree runs every test model through plain Run and through
// an I/O binding and requires identical outputs; it also checks which
// models actually went through the binding (those whose output shapes are
// known before the run).
func TestBindingModesAgree(t *testing.T) {
	modeltest.InitRuntime(t)
	tests := []struct {
		file  string
		bound bool
	}{
		{"fixed_affine.onnx", true},
		{"example_multitype.onnx", true},
		{"example_float16.onnx", true},
		{"example_several_inputs_and_outputs.onnx", true},
		{"example_dynamic_axes.onnx", true},
		{"row_sum.onnx", false},      // y's second dimension is only known after the run
		{"identity_all.onnx", false}, // BYTES output: the runtime allocates it
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := modeltest.Path(t, tt.file)
			io, err := onnx.ReadIO(path, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var results [2][]tensor.Tensor
			for k, mode := range []onnx.Binding{onnx.BindingRun, onnx.BindingIO} {
				s, err := onnx.Open(path, io, onnx.Options{Binding: mode})
				if err != nil {
					t.Fatal(err)
				}
				if s.Binding() != mode {
					t.Errorf("Binding() = %s, want %s", s.Binding(), mode)
				}
				before := s.BoundRuns()
				for range 2 { // the second run reuses the binding
					if results[k], err = s.Run(context.Background(), sampleInputs(io, 3)); err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
				}
				if bound := s.BoundRuns() > before; bound != (tt.bound && mode == onnx.BindingIO) {
					t.Errorf("%s: bound = %v, want %v", mode, bound, tt.bound && mode == onnx.BindingIO)
				}
				s.Close()
			}
			for i := range results[0] {
				a, b := results[0][i], results[1][i]
				if tensor.FormatShape(a.Shape) != tensor.FormatShape(b.Shape) || !bytes.Equal(a.Data, b.Data) || fmt.Sprint(a.Strings) != fmt.Sprint(b.Strings) {
					t.Errorf("output %s: run %v %v, iobinding %v %v", a.Name, a.Shape, a.Data, b.Shape, b.Data)
				}
			}
		})
	}
}

func TestBindingDefault(t *testing.T) {
	if onnx.BindingAuto.String() != "auto" || onnx.DefaultBinding == onnx.BindingAuto {
		t.Errorf("DefaultBinding = %s, want a concrete mode", onnx.DefaultBinding)
	}
}
