package onnx

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

var (
	initMu   sync.Mutex
	initPath string
)

// Init loads the ONNX Runtime library at path and creates the process-wide
// runtime environment. The environment is shared by every session; calling
// Init again with the same path is a no-op, with another path an error.
func Init(path string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if ort.IsInitialized() {
		if path != initPath {
			return fmt.Errorf("onnxruntime already initialised from %s, not %s", initPath, path)
		}
		return nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("initialise onnxruntime from %s: %w", path, err)
	}
	initPath = path
	return nil
}

// Library is the path Init loaded the runtime from ("" before Init).
func Library() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version returns the loaded runtime's version string.
func Version() string { return ort.GetVersion() }

// Execution providers a model may ask for (models.Config's
// execution_provider).
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// Providers lists the execution providers this package can append, CPU
// first.
var Providers = []string{ProviderCPU, ProviderCUDA, ProviderTensorRT}

// Options are the session options the miner sets.
type Options struct {
	// IntraOpThreads is the number of threads one execution uses; on a
	// small CPU 1 thread with spinning off beats more (measured on 2 cores).
	IntraOpThreads int
	// ExecutionProvider is "cpu" (or ""), "cuda" or "tensorrt". GPU
	// providers are shared libraries ONNX Runtime loads at run time; when
	// they cannot load, Open fails (with a *ProviderLoadError when a library
	// is missing) unless Fallback is "cpu".
	ExecutionProvider string
	// DeviceID is the CUDA device ordinal of a GPU provider.
	DeviceID int
	// Fallback "cpu" makes Open run the model on the CPU, logging one
	// warning, when the GPU provider cannot load.
	Fallback string
	// Binding selects how runs pass tensors to ONNX Runtime (BindingAuto
	// when zero).
	Binding Binding
	// Logger receives the fallback warning; nil uses slog.Default().
	Logger *slog.Logger
}

// Binding selects how a session hands its inputs and outputs to ONNX
// Runtime.
type Binding int

const (
	// BindingAuto picks the faster mode measured on this project's CPU
	// (see DefaultBinding).
	BindingAuto Binding = iota
	// BindingRun passes inputs and preallocated outputs to Run.
	BindingRun
	// BindingIO binds inputs and preallocated outputs to an ONNX Runtime
	// I/O binding and runs with RunWithBinding; outputs whose shape is
	// only known after the run use BindingRun.
	BindingIO
)

// DefaultBinding is what BindingAuto means: plain Run. Both modes hand
// ONNX Runtime the request's own buffers on the CPU (no copy either way);
// see BenchmarkBinding and docs/performance.md "I/O binding on the CPU".
const DefaultBinding = BindingRun

// String names the mode.
func (b Binding) String() string {
	switch b {
	case BindingRun:
		return "run"
	case BindingIO:
		return "iobinding"
	default:
		return "auto"
	}
}

func (b Binding) resolve() Binding {
	if b == BindingAuto {
		return DefaultBinding
	}
	return b
}

// provider returns the normalised provider name.
func (o Options) provider() string {
	if o.ExecutionProvider == "" {
		return ProviderCPU
	}
	return o.ExecutionProvider
}

// sessionOptions builds ONNX Runtime's options for provider. An error from
// appending a GPU provider wraps ONNX Runtime's own message.
func (o Options) sessionOptions(provider string) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("create session options: %w", err)
	}
	threads := o.IntraOpThreads
	if threads <= 0 {
		threads = 1
	}
	steps := []func() error{
		func() error { return so.SetIntraOpNumThreads(threads) },
		func() error { return so.SetInterOpNumThreads(1) },
		func() error { return so.SetExecutionMode(ort.ExecutionModeSequential) },
		func() error { return so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll) },
		// Spinning threads burn the core the HTTP side needs.
		func() error { return so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") },
		func() error { return so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			so.Destroy()
			return nil, fmt.Errorf("set session options: %w", err)
		}
	}
	if err := appendProvider(so, provider, o.DeviceID); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

// appendProvider appends a GPU execution provider on device; cpu needs
// nothing (ONNX Runtime always has it).
func appendProvider(so *ort.SessionOptions, provider string, device int) error {
	dev := map[string]string{"device_id": strconv.Itoa(device)}
	switch provider {
	case ProviderCPU:
		return nil
	case ProviderCUDA:
		po, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return providerError(provider, device, err)
		}
		defer po.Destroy()
		if err := po.Update(dev); err != nil {
			return providerError(provider, device, err)
		}
		if err := so.AppendExecutionProviderCUDA(po); err != nil {
			return providerError(provider, device, err)
		}
		return nil
	case ProviderTensorRT:
		po, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return providerError(provider, device, err)
		}
		defer po.Destroy()
		if err := po.Update(dev); err != nil {
			return providerError(provider, device, err)
		}
		if err := so.AppendExecutionProviderTensorRT(po); err != nil {
			return providerError(provider, device, err)
		}
		return nil
	default:
		return fmt.Errorf("execution provider %q is not cpu, cuda or tensorrt", provider)
	}
}
