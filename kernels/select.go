package kernels

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Argmax returns, for each row along the last axis of x (shape), the index of
// its largest value; ties go to the lower index. The result has the shape
// without its last axis ([1] for a 1-D input).
//
// It is Gorgonia's Argmax, which also stops at the first NaN or +Inf in a row
// and returns that index (so a NaN after a +Inf is not chosen; TopK ranks NaN
// above +Inf). With finite values, or infinities but no NaN, Argmax(x) equals
// the index TopK(x, 1) returns.
func Argmax(x []float32, shape []int) ([]int, []int, error) {
	rows, cols, err := rowsCols(shape, len(x))
	if err != nil {
		return nil, nil, fmt.Errorf("argmax: %w", err)
	}
	idx, err := argmaxRows(x, rows, cols)
	if err != nil {
		return nil, nil, fmt.Errorf("argmax: %w", err)
	}
	out := cloneShape(shape[:len(shape)-1])
	if len(out) == 0 {
		out = []int{1}
	}
	return idx, out, nil
}

func argmaxRows(x []float32, rows, cols int) ([]int, error) {
	if cols == 1 {
		return make([]int, rows), nil
	}
	r, err := tensor.Argmax(matrix(x, rows, cols, false), 1)
	if err != nil {
		return nil, err
	}
	switch d := r.Data().(type) {
	case []int:
		return append([]int(nil), d...), nil
	case int:
		return []int{d}, nil
	default:
		return nil, fmt.Errorf("unexpected argmax result %T", d)
	}
}

// TopK returns, for each row along the last axis of x (shape), its k largest
// values in descending order and their indices; the result shape is shape
// with the last axis set to k. Equal values are ordered by lower index first.
// NaN ranks above every number (as in torch.topk), then +Inf, then finite
// values, then -Inf; k must be in [1, last axis].
//
// Gorgonia has no sort or top-k, so only k = 1 on input without NaN runs on
// Gorgonia's Argmax (where the two rankings agree). Otherwise each row is
// scanned once, keeping the best k in a sorted list (O(cols·k), faster than
// sorting for the usual k ≪ cols).
func TopK(x []float32, shape []int, k int) ([]float32, []int, []int, error) {
	rows, cols, err := rowsCols(shape, len(x))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("top-k: %w", err)
	}
	if k < 1 || k > cols {
		return nil, nil, nil, fmt.Errorf("top-k: %w: k = %d, last axis has %d", ErrArgument, k, cols)
	}
	vals := make([]float32, rows*k)
	idx := make([]int, rows*k)
	outShape := cloneShape(shape)
	outShape[len(outShape)-1] = k
	if k == 1 && !hasNaN(x) {
		am, err := argmaxRows(x, rows, cols)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("top-k: %w", err)
		}
		for r, i := range am {
			idx[r] = i
			vals[r] = x[r*cols+i]
		}
		return vals, idx, outShape, nil
	}
	for r := 0; r < rows; r++ {
		selectTop(x[r*cols:(r+1)*cols], vals[r*k:(r+1)*k], idx[r*k:(r+1)*k])
	}
	return vals, idx, outShape, nil
}

// ranksAbove reports whether value a (at a lower or equal index) ranks above
// b: NaN first, then by value; ties keep the earlier one.
func ranksAbove(a, b float32) bool {
	an, bn := a != a, b != b
	if an || bn {
		return an && !bn
	}
	return a > b
}

// selectTop fills vals/idx (length k) with the k best of row, best first.
func selectTop(row []float32, vals []float32, idx []int) {
	k, n := len(vals), 0
	for i, v := range row {
		if n == k && !ranksAbove(v, vals[k-1]) {
			continue
		}
		j := n
		if n < k {
			n++
		} else {
			j = k - 1
		}
		// Strictly-above keeps equal values in index order.
		for j > 0 && ranksAbove(v, vals[j-1]) {
			vals[j], idx[j] = vals[j-1], idx[j-1]
			j--
		}
		vals[j], idx[j] = v, i
	}
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) {
			return true
		}
	}
	return false
}
