package onnx

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// ProviderLoadError reports that ONNX Runtime could not load a GPU execution
// provider because a shared library is missing: either the provider itself
// (the library in use is a CPU build, which has none) or a library the
// provider needs (CUDA, cuDNN, TensorRT). Its message says which, and what
// to use instead; Unwrap gives ONNX Runtime's own error.
type ProviderLoadError struct {
	// Provider is the execution provider asked for: "cuda" or "tensorrt".
	Provider string
	// Library is the ONNX Runtime library in use.
	Library string
	// Loading is the library ONNX Runtime tried to load.
	Loading string
	// Missing is the file the dynamic loader could not find: Loading itself
	// when the provider is absent, or one of its dependencies.
	Missing string
	// Err is ONNX Runtime's error.
	Err error
}

// NoProvider reports whether the ONNX Runtime library has no build of the
// provider at all (rather than the provider lacking a dependency).
func (e *ProviderLoadError) NoProvider() bool {
	return strings.HasPrefix(filepath.Base(e.Missing), "libonnxruntime_providers_")
}

func (e *ProviderLoadError) Error() string {
	name := providerNames[e.Provider]
	const instead = "execution_provider: cpu, or fallback: cpu in the model's YAML to run it on the CPU when the GPU provider cannot load"
	if e.NoProvider() {
		return fmt.Sprintf("execution_provider %s: the ONNX Runtime library %s has no %s provider (%s is not beside it: this is a CPU build); "+
			"use the GPU build of ONNX Runtime (the gpu image has it; elsewhere point --onnxruntime-lib at the libonnxruntime.so.1 of onnxruntime-linux-x64-gpu), or set %s",
			e.Provider, e.Library, name, filepath.Base(e.Missing), instead)
	}
	needs := "CUDA"
	if e.Provider == ProviderTensorRT {
		needs = "CUDA and TensorRT"
	}
	return fmt.Sprintf("execution_provider %s: ONNX Runtime's %s provider %s needs %s, which the dynamic loader cannot find; "+
		"install the %s libraries this ONNX Runtime was built for (the gpu image has them) and add their folder to LD_LIBRARY_PATH, or set %s",
		e.Provider, name, e.Loading, e.Missing, needs, instead)
}

func (e *ProviderLoadError) Unwrap() error { return e.Err }

var providerNames = map[string]string{ProviderCUDA: "CUDA", ProviderTensorRT: "TensorRT"}

// loadFailure matches ONNX Runtime's message when dlopen fails:
// "Failed to load library X with error: Y: cannot open shared object file".
var loadFailure = regexp.MustCompile(`Failed to load library (\S+) with error: (\S+): cannot open shared object file`)

// providerError explains err, from appending provider on device, as a
// *ProviderLoadError when a shared library is missing; other errors keep
// ONNX Runtime's message.
func providerError(provider string, device int, err error) error {
	if m := loadFailure.FindStringSubmatch(err.Error()); m != nil {
		return &ProviderLoadError{Provider: provider, Library: Library(), Loading: m[1], Missing: m[2], Err: err}
	}
	return fmt.Errorf("%s execution provider (device %d): %w", provider, device, err)
}
