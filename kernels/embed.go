package kernels

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// DefaultL2Epsilon is the smallest norm L2Normalize divides by, as in
// torch.nn.functional.normalize: y = x / max(‖x‖₂, ε).
const DefaultL2Epsilon = 1e-12

// L2Normalize divides each row along the last axis of x (shape) by its
// Euclidean norm, or by eps when the norm is smaller (so an all-zero row stays
// zero): y = x / max(‖x‖₂, eps). The sum of squares is accumulated in float32
// in index order, so values above about 1.8e19 overflow it (the row becomes 0).
func L2Normalize(x []float32, shape []int, eps float32) ([]float32, error) {
	rows, cols, err := rowsCols(shape, len(x))
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	if !(eps >= 0) {
		return nil, fmt.Errorf("l2-normalize: %w: epsilon %v", ErrArgument, eps)
	}
	t := matrix(x, rows, cols, true)
	sq, err := tensor.Square(t)
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	norm, err := tensor.Sum(sq, 1)
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: sum: %w", err)
	}
	if _, err := tensor.Sqrt(norm, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	if _, err := tensor.Clamp(norm, eps, float32(math.Inf(1)), tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	den, err := perRow(norm, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	if _, err := tensor.Div(t, den, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	return floats(t), nil
}

// Clamp limits every value of x to [lo, hi]; NaN stays NaN. shape is checked
// against x only.
func Clamp(x []float32, shape []int, lo, hi float32) ([]float32, error) {
	if _, err := volume(shape, len(x)); err != nil {
		return nil, fmt.Errorf("clamp: %w", err)
	}
	if !(lo <= hi) {
		return nil, fmt.Errorf("clamp: %w: lo %v > hi %v", ErrArgument, lo, hi)
	}
	t := tensor.New(tensor.WithShape(len(x)), tensor.WithBacking(append([]float32(nil), x...)))
	out, err := tensor.Clamp(t, lo, hi, tensor.UseUnsafe())
	if err != nil {
		return nil, fmt.Errorf("clamp: %w", err)
	}
	return floats(out), nil
}

// Truncate keeps the first n values of each row along the last axis of x
// (shape), e.g. cutting a Matryoshka embedding to the width a request asks
// for; the result shape is shape with the last axis set to n (1 ≤ n ≤ last
// axis). It does not renormalise: call L2Normalize afterwards if needed.
func Truncate(x []float32, shape []int, n int) ([]float32, []int, error) {
	rows, cols, err := rowsCols(shape, len(x))
	if err != nil {
		return nil, nil, fmt.Errorf("truncate: %w", err)
	}
	if n < 1 || n > cols {
		return nil, nil, fmt.Errorf("truncate: %w: %d dims asked, last axis has %d", ErrArgument, n, cols)
	}
	outShape := cloneShape(shape)
	outShape[len(outShape)-1] = n
	if n == cols {
		return append([]float32(nil), x...), outShape, nil
	}
	v, err := matrix(x, rows, cols, false).Slice(nil, tensor.S(0, n))
	if err != nil {
		return nil, nil, fmt.Errorf("truncate: %w", err)
	}
	m := v.Materialize()
	return append([]float32(nil), floats(m)...), outShape, nil
}
