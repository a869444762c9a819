package kernels

import (
	"errors"
	"fmt"

	"gorgonia.org/tensor"
)

// ErrShape reports a shape that does not fit the data or the kernel: a
// non-positive dimension, a product that differs from the data length, or too
// few axes.
var ErrShape = errors.New("bad shape")

// ErrArgument reports a parameter outside its domain (k < 1, lo > hi, a
// negative epsilon, a mean/std list of the wrong length, a zero std).
var ErrArgument = errors.New("bad argument")

// volume checks shape against n values and returns the element count.
func volume(shape []int, n int) (int, error) {
	if len(shape) == 0 {
		return 0, fmt.Errorf("%w: empty shape", ErrShape)
	}
	v := 1
	for _, d := range shape {
		if d < 1 {
			return 0, fmt.Errorf("%w: %v has a dimension < 1", ErrShape, shape)
		}
		v *= d
	}
	if v != n {
		return 0, fmt.Errorf("%w: %v holds %d values, data has %d", ErrShape, shape, v, n)
	}
	return v, nil
}

// rowsCols checks shape against n values and splits it into rows (the product
// of every axis but the last) and cols (the last axis).
func rowsCols(shape []int, n int) (rows, cols int, err error) {
	if _, err := volume(shape, n); err != nil {
		return 0, 0, err
	}
	cols = shape[len(shape)-1]
	return n / cols, cols, nil
}

// matrix wraps data (copied when clone is set) as a rows×cols dense tensor.
func matrix(data []float32, rows, cols int, clone bool) *tensor.Dense {
	if clone {
		data = append([]float32(nil), data...)
	}
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
}

// perRow repeats a length-rows vector (one value per row) across cols
// columns, giving a rows×cols tensor that lines up with the input for an
// element-wise op. Gorgonia's tensor package has no broadcasting, so the
// per-row statistic is materialised with Repeat.
func perRow(v tensor.Tensor, rows, cols int) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("per-row values: unexpected tensor type %T", v)
	}
	d = d.ShallowClone()
	if err := d.Reshape(rows, 1); err != nil {
		return nil, fmt.Errorf("per-row values: %w", err)
	}
	if cols == 1 {
		return d, nil
	}
	r, err := tensor.Repeat(d, 1, cols)
	if err != nil {
		return nil, fmt.Errorf("per-row values: %w", err)
	}
	return r.(*tensor.Dense), nil
}

func cloneShape(shape []int) []int { return append([]int(nil), shape...) }

// floats returns a float32 tensor's values; a one-element result may come
// back from Gorgonia as a scalar.
func floats(t tensor.Tensor) []float32 {
	switch d := t.Data().(type) {
	case []float32:
		return d
	case float32:
		return []float32{d}
	default:
		panic(fmt.Sprintf("kernels: float32 tensor holds %T", d))
	}
}
