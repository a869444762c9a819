package onnx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/modeltest"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// noProvider is part of the message when a GPU provider is asked of this
// CPU-only ONNX Runtime.
const noProvider = "provider (libonnxruntime_providers_shared.so is not beside it: this is a CPU build)"

// TestProviderGPUFailsWithoutLibrary checks that asking for a GPU provider
// on this CPU-only library fails the open with a message that names the
// library, says it has no such provider and what to use instead.
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
			name := map[string]string{"cuda": "CUDA", "tensorrt": "TensorRT"}[p]
			for _, want := range []string{
				"row_sum.onnx: execution_provider " + p + ": the ONNX Runtime library " + onnx.Library() + " has no " + name + " " + noProvider,
				"use the GPU build of ONNX Runtime (the gpu image has it; elsewhere point --onnxruntime-lib at the libonnxruntime.so.1 of onnxruntime-linux-x64-gpu)",
				"or set execution_provider: cpu, or fallback: cpu in the model's YAML",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open on %s: error %q lacks %q", p, err, want)
				}
			}
			if strings.Contains(err.Error(), "cannot open shared object file") {
				t.Errorf("Open on %s: error %q repeats the loader's raw message", p, err)
			}
			var pe *onnx.ProviderLoadError
			if !errors.As(err, &pe) || !pe.NoProvider() || pe.Provider != p || pe.Err == nil {
				t.Errorf("Open on %s: error %#v, want a *ProviderLoadError saying the provider is absent", p, err)
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
		!strings.Contains(lines[0], noProvider) {
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

// TestProviderMissingDependency checks the message when the provider is
// there but a library it needs is not (a GPU build without CUDA
// installed); the text is ONNX Runtime's as a GPU build prints it.
func TestProviderMissingDependency(t *testing.T) {
	const lib = "/opt/onnxruntime/lib/libonnxruntime_providers_cuda.so"
	ortErr := errors.New("provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : " +
		"Failed to load library " + lib + " with error: libcublasLt.so.12: cannot open shared object file: No such file or directory")
	err := onnx.ProviderError(onnx.ProviderCUDA, 0, ortErr)
	var pe *onnx.ProviderLoadError
	if !errors.As(err, &pe) || pe.NoProvider() || pe.Missing != "libcublasLt.so.12" || pe.Loading != lib {
		t.Fatalf("ProviderError = %#v, want a missing dependency libcublasLt.so.12 of %s", err, lib)
	}
	want := "execution_provider cuda: ONNX Runtime's CUDA provider " + lib + " needs libcublasLt.so.12, which the dynamic loader cannot find; " +
		"install the CUDA libraries this ONNX Runtime was built for (the gpu image has them) and add their folder to LD_LIBRARY_PATH, " +
		"or set execution_provider: cpu, or fallback: cpu in the model's YAML to run it on the CPU when the GPU provider cannot load"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, ortErr) {
		t.Error("ProviderLoadError does not unwrap to ONNX Runtime's error")
	}
	other := onnx.ProviderError(onnx.ProviderTensorRT, 2, errors.New("invalid device"))
	if other.Error() != "tensorrt execution provider (device 2): invalid device" {
		t.Errorf("other error = %q, want ONNX Runtime's message with the provider and device", other)
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
	if _, err := onnx.Probe(context.Background(), onnx.ProviderCUDA, 0, onnx.BindingAuto); err == nil || !strings.Contains(err.Error(), noProvider) {
		t.Errorf("Probe cuda: err %v, want the library to say it has no CUDA provider", err)
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
