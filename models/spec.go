package models

import (
	"context"
	"fmt"

	"github.com/taominer/taominer/models/tensor"
)

// Platform is the platform name reported in model metadata, as Triton names
// its ONNX Runtime backend.
const Platform = "onnxruntime_onnx"

// TensorSpec describes one model input or output. Shape is the full shape as
// the model declares it, -1 marking a variable dimension; for a model with a
// batch axis Shape[0] is -1.
type TensorSpec struct {
	Name     string
	DataType tensor.DataType
	Shape    []int64
}

// IO is what a runtime backend reads from a model file: its inputs and
// outputs, in the model's order.
type IO struct {
	Inputs  []TensorSpec
	Outputs []TensorSpec
}

// HasBatchAxis reports whether every input and output has a variable first
// dimension, the condition for merging requests along it.
func (io IO) HasBatchAxis() bool {
	if len(io.Inputs) == 0 || len(io.Outputs) == 0 {
		return false
	}
	for _, group := range [][]TensorSpec{io.Inputs, io.Outputs} {
		for _, t := range group {
			if len(t.Shape) == 0 || t.Shape[0] >= 0 {
				return false
			}
		}
	}
	return true
}

// Spec is a loaded model version as the rest of the miner sees it.
type Spec struct {
	Name    string
	Version string
	IO
	// MaxBatchSize is the largest batch the batcher forms; 0 means the model
	// has no batch axis and runs one request at a time with the full shape.
	MaxBatchSize int
	Config       Config
	// Path is the model file.
	Path string
}

// Input returns the spec of the named input.
func (s *Spec) Input(name string) (TensorSpec, bool) { return find(s.Inputs, name) }

// Output returns the spec of the named output.
func (s *Spec) Output(name string) (TensorSpec, bool) { return find(s.Outputs, name) }

func find(ts []TensorSpec, name string) (TensorSpec, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return TensorSpec{}, false
}

// ShapeMatches reports whether a concrete shape fits a declared shape: same
// rank and equal dimensions where the declaration is not variable.
func ShapeMatches(declared, got []int64) bool {
	if len(declared) != len(got) {
		return false
	}
	for i, d := range declared {
		if got[i] < 0 || (d >= 0 && d != got[i]) {
			return false
		}
	}
	return true
}

// Session runs a model. Inputs come in the model's input order with their
// batch already merged; Run returns every output in the model's output order.
// Run may be called from several goroutines at once.
type Session interface {
	Run(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error)
	Close() error
}

// LoadError reports a model that could not be loaded, with the reason that the
// repository index shows.
type LoadError struct {
	Model   string
	Version string
	Err     error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("load model %s version %s: %v", e.Model, e.Version, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }
