package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Softmax returns exp(x - max) / Σ exp(x - max) along the last axis of x
// (shape), in float32. Subtracting the row maximum first keeps it stable for
// large inputs. A row holding NaN or +Inf, or only -Inf, gives NaN.
func Softmax(x []float32, shape []int) ([]float32, error) {
	rows, cols, err := rowsCols(shape, len(x))
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	t := matrix(x, rows, cols, true)
	mx, err := t.Max(1)
	if err != nil {
		return nil, fmt.Errorf("softmax: max: %w", err)
	}
	shift, err := perRow(mx, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	if _, err := tensor.Sub(t, shift, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("softmax: shift: %w", err)
	}
	if _, err := tensor.Exp(t, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("softmax: exp: %w", err)
	}
	sum, err := t.Sum(1)
	if err != nil {
		return nil, fmt.Errorf("softmax: sum: %w", err)
	}
	den, err := perRow(sum, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	if _, err := tensor.Div(t, den, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("softmax: divide: %w", err)
	}
	return floats(t), nil
}

// Sigmoid returns 1 / (1 + exp(-x)) element-wise, in float32, with the
// stable formulation: e = exp(-|x|), then 1/(1+e) where x ≥ 0 and e/(1+e)
// where x < 0, so neither branch overflows. shape is checked against x only.
// NaN stays NaN; ±Inf give 1 and 0.
//
// Gorgonia has no select, so the branch is written as a 0/1 mask m = (x ≥ 0):
// (e·(1-m) + m) / (1 + e), which is exactly 1/(1+e) or e/(1+e).
func Sigmoid(x []float32, shape []int) ([]float32, error) {
	if _, err := volume(shape, len(x)); err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	t := tensor.New(tensor.WithShape(len(x)), tensor.WithBacking(append([]float32(nil), x...)))
	e, err := tensor.Abs(t)
	if err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	if _, err := tensor.Neg(e, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	if _, err := tensor.Exp(e, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	m, err := tensor.Gte(t, float32(0), tensor.AsSameType())
	if err != nil {
		return nil, fmt.Errorf("sigmoid: mask: %w", err)
	}
	notM, err := tensor.Sub(float32(1), m)
	if err != nil {
		return nil, fmt.Errorf("sigmoid: mask: %w", err)
	}
	num, err := tensor.Mul(e, notM)
	if err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	if _, err := tensor.Add(num, m, tensor.UseUnsafe()); err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	den, err := tensor.Add(e, float32(1), tensor.UseUnsafe())
	if err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	out, err := tensor.Div(num, den, tensor.UseUnsafe())
	if err != nil {
		return nil, fmt.Errorf("sigmoid: %w", err)
	}
	return floats(out), nil
}
