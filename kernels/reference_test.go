package kernels

import (
	"math"
	"sort"
)

// Plain-Go reference implementations, written independently of the Gorgonia
// kernels: straight loops, float64 accumulation, a full stable sort for top-k.
// Tests compare the kernels with them; benchmarks time both.

func refNormalize(pix []uint8, n, h, w, c int, p NormParams) []float32 {
	out := make([]float32, len(pix))
	for i := 0; i < n; i++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				src := ((i*h+y)*w + x) * c
				for ch := 0; ch < c; ch++ {
					v := float32(float32(pix[src+ch]) * p.Scale)
					v = float32(v - p.Mean[ch])
					out[((i*c+ch)*h+y)*w+x] = v / p.Std[ch]
				}
			}
		}
	}
	return out
}

func refSoftmax(x []float32, cols int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += cols {
		row := x[r : r+cols]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		for j, v := range row {
			out[r+j] = float32(math.Exp(float64(v)-mx) / sum)
		}
	}
	return out
}

func refSigmoid(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		f := float64(v)
		switch {
		case f != f:
			out[i] = float32(math.NaN())
		case f >= 0:
			out[i] = float32(1 / (1 + math.Exp(-f)))
		default:
			e := math.Exp(f)
			out[i] = float32(e / (1 + e))
		}
	}
	return out
}

// refArgmax follows the documented rule: the first NaN or +Inf, else the
// first maximum.
func refArgmax(x []float32, cols int) []int {
	var out []int
	for r := 0; r < len(x); r += cols {
		best := 0
		for j := 0; j < cols; j++ {
			v := float64(x[r+j])
			if math.IsNaN(v) || math.IsInf(v, 1) {
				best = j
				break
			}
			if v > float64(x[r+best]) {
				best = j
			}
		}
		out = append(out, best)
	}
	return out
}

func refTopK(x []float32, cols, k int) ([]float32, []int) {
	var vals []float32
	var idx []int
	for r := 0; r < len(x); r += cols {
		row := x[r : r+cols]
		order := make([]int, cols)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			va, vb := float64(row[order[a]]), float64(row[order[b]])
			if math.IsNaN(va) || math.IsNaN(vb) {
				return math.IsNaN(va) && !math.IsNaN(vb)
			}
			return va > vb
		})
		for _, i := range order[:k] {
			vals = append(vals, row[i])
			idx = append(idx, i)
		}
	}
	return vals, idx
}

func refL2(x []float32, cols int, eps float32) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += cols {
		var ss float64
		for _, v := range x[r : r+cols] {
			ss += float64(v) * float64(v)
		}
		norm := math.Max(math.Sqrt(ss), float64(eps))
		for j, v := range x[r : r+cols] {
			out[r+j] = float32(float64(v) / norm)
		}
	}
	return out
}

func refClamp(x []float32, lo, hi float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		switch {
		case v < lo:
			v = lo
		case v > hi:
			v = hi
		}
		out[i] = v
	}
	return out
}

func refTruncate(x []float32, cols, n int) []float32 {
	var out []float32
	for r := 0; r < len(x); r += cols {
		out = append(out, x[r:r+n]...)
	}
	return out
}
