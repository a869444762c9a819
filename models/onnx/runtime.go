package onnx

import (
	"fmt"
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

// Version returns the loaded runtime's version string.
func Version() string { return ort.GetVersion() }

// Options are the session options the miner sets.
type Options struct {
	// IntraOpThreads is the number of threads one execution uses; on a
	// small CPU 1 thread with spinning off beats more (measured on 2 cores).
	IntraOpThreads int
	// ExecutionProvider is "cpu" (or ""); GPU providers arrive with the GPU
	// work and are refused here until then.
	ExecutionProvider string
}

func (o Options) sessionOptions() (*ort.SessionOptions, error) {
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
	switch o.ExecutionProvider {
	case "", "cpu":
	default:
		so.Destroy()
		return nil, fmt.Errorf("execution provider %q is not available in this build (cpu only)", o.ExecutionProvider)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			so.Destroy()
			return nil, fmt.Errorf("set session options: %w", err)
		}
	}
	return so, nil
}
