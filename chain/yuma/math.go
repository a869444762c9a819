package yuma

import "sort"

// Cell is one entry (column, value) of a sparse matrix row.
type Cell struct {
	Col uint16
	Val I32F32
}

// Sparse is a row-major sparse matrix: row i lists its non-stored-as-zero entries in storage
// order, as the chain's Vec<Vec<(u16, I32F32)>>.
type Sparse [][]Cell

func (m Sparse) clone() Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		out[i] = append([]Cell(nil), r...)
	}
	return out
}

// Sum adds a vector with saturation.
func Sum(x []I32F32) I32F32 {
	var s I32F32
	for _, v := range x {
		s = s.Add(v)
	}
	return s
}

func isZero(x []I32F32) bool { return Sum(x) == 0 }

// Normalize divides every element by the vector's sum in place (no-op when the sum is 0).
func Normalize(x []I32F32) {
	NormalizeUsingSum(x, Sum(x))
}

// NormalizeUsingSum divides every element by s in place (no-op when s is 0).
func NormalizeUsingSum(x []I32F32, s I32F32) {
	if s == 0 {
		return
	}
	for i := range x {
		x[i] = x[i].Div(s)
	}
}

// IsTopKNonzero marks the k largest non-zero entries: an ascending stable sort drops the n−k
// smallest; when n < k every non-zero entry wins (is_topk_nonzero).
func IsTopKNonzero(v []I32F32, k int) []bool {
	return topK(v, k, true)
}

// maskVector zeroes x[i] where mask[i] (missing mask entries count as true).
func maskVector(mask []bool, x []I32F32) {
	for i := range x {
		if i >= len(mask) || mask[i] {
			x[i] = 0
		}
	}
}

// maskRows empties rows whose mask is true (missing entries count as true).
func maskRows(mask []bool, m Sparse) Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		if i < len(mask) && !mask[i] {
			out[i] = append([]Cell(nil), r...)
		}
	}
	return out
}

// maskDiag drops diagonal entries, except the owner's self-weight when owner ≥ 0.
func maskDiag(m Sparse, owner int) Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		row := make([]Cell, 0, len(r))
		for _, c := range r {
			if int(c.Col) != i || i == owner {
				row = append(row, c)
			}
		}
		out[i] = row
	}
	return out
}

// maskByRowCol drops entry (i, j) when drop(first[i], second[j]) (vec_mask_sparse_matrix);
// missing vector entries count as 0.
func maskByRowCol(m Sparse, first, second []uint64, drop func(a, b uint64) bool) Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		var fv uint64
		if i < len(first) {
			fv = first[i]
		}
		row := make([]Cell, 0, len(r))
		for _, c := range r {
			var sv uint64
			if int(c.Col) < len(second) {
				sv = second[c.Col]
			}
			if !drop(fv, sv) {
				row = append(row, c)
			}
		}
		out[i] = row
	}
	return out
}

// rowNormalize divides each row by its sum when the sum is positive.
func rowNormalize(m Sparse) {
	for _, r := range m {
		var s I32F32
		for _, c := range r {
			s = s.Add(c.Val)
		}
		if s > 0 {
			for k := range r {
				r[k].Val = r[k].Val.Div(s)
			}
		}
	}
}

// rowSum sums each row.
func rowSum(m Sparse) []I32F32 {
	out := make([]I32F32, len(m))
	for i, r := range m {
		for _, c := range r {
			out[i] = out[i].Add(c.Val)
		}
	}
	return out
}

// colNormalize divides each entry by its column sum (columns with sum 0 untouched).
func colNormalize(m Sparse, cols int) {
	sum := make([]I32F32, cols)
	for _, r := range m {
		for _, c := range r {
			if int(c.Col) < cols {
				sum[c.Col] = sum[c.Col].Add(c.Val)
			}
		}
	}
	for _, r := range m {
		for k, c := range r {
			if int(c.Col) < cols && sum[c.Col] != 0 {
				r[k].Val = c.Val.Div(sum[c.Col])
			}
		}
	}
}

// colMaxUpscale divides each entry by its column maximum (columns with max 0 untouched).
func colMaxUpscale(m Sparse, cols int) {
	mx := make([]I32F32, cols)
	for _, r := range m {
		for _, c := range r {
			if int(c.Col) < cols && mx[c.Col] < c.Val {
				mx[c.Col] = c.Val
			}
		}
	}
	for _, r := range m {
		for k, c := range r {
			if int(c.Col) < cols && mx[c.Col] != 0 {
				r[k].Val = c.Val.Div(mx[c.Col])
			}
		}
	}
}

// rowHadamard multiplies row i by v[i].
func rowHadamard(m Sparse, v []I32F32) Sparse {
	out := make(Sparse, 0, len(m))
	for i, r := range m {
		if i >= len(v) {
			break
		}
		row := make([]Cell, len(r))
		for k, c := range r {
			row[k] = Cell{c.Col, c.Val.Mul(v[i])}
		}
		out = append(out, row)
	}
	return out
}

// matmul returns r_j = Σ_i v_i · m_ij over cols columns.
func matmul(m Sparse, v []I32F32, cols int) []I32F32 {
	out := make([]I32F32, cols)
	for i, r := range m {
		var s I32F32
		if i < len(v) {
			s = v[i]
		}
		for _, c := range r {
			if int(c.Col) < cols {
				out[c.Col] = out[c.Col].Add(s.Mul(c.Val))
			}
		}
	}
	return out
}

// matmulTranspose returns r_i = Σ_j v_j · m_ij.
func matmulTranspose(m Sparse, v []I32F32) []I32F32 {
	out := make([]I32F32, len(m))
	for i, r := range m {
		var acc I32F32
		for _, c := range r {
			var x I32F32
			if int(c.Col) < len(v) {
				x = v[c.Col]
			}
			acc = acc.Add(x.Mul(c.Val))
		}
		out[i] = acc
	}
	return out
}

// colClip replaces m_ij by min(m_ij, t_j); entries above a non-positive threshold are dropped.
func colClip(m Sparse, t []I32F32) Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		row := make([]Cell, 0, len(r))
		for _, c := range r {
			var th I32F32
			if int(c.Col) < len(t) {
				th = t[c.Col]
			}
			if th < c.Val {
				if th > 0 {
					row = append(row, Cell{c.Col, th})
				}
			} else {
				row = append(row, c)
			}
		}
		out[i] = row
	}
	return out
}

// WeightedMedian is the chain's stake-weighted quick-select median over the indices in idx
// (kept in their original order): the pivot is the score at position len/2, equal scores go
// to neither side, and the search goes low when minority < lo + lowStake, high when
// hi − highStake ≤ minority, and otherwise returns the pivot.
func WeightedMedian(stake, score []I32F32, idx []int, minority, lo, hi I32F32) I32F32 {
	if len(stake) != len(score) {
		return 0
	}
	get := func(v []I32F32, i int) I32F32 {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	cur := append([]int(nil), idx...)
	limit := len(idx)
	for iter := 0; iter <= limit; iter++ {
		n := len(cur)
		if n == 0 {
			return 0
		}
		if n == 1 {
			return get(score, cur[0])
		}
		pivot := get(score, cur[n/2])
		var loStake, hiStake I32F32
		var lower, upper []int
		for _, i := range cur {
			s := get(score, i)
			switch {
			case s == pivot:
			case s < pivot:
				loStake = loStake.Add(get(stake, i))
				lower = append(lower, i)
			default:
				hiStake = hiStake.Add(get(stake, i))
				upper = append(upper, i)
			}
		}
		switch {
		case minority < lo.Add(loStake) && len(lower) > 0:
			cur = lower
			hi = lo.Add(loStake)
		case hi.Sub(hiStake) <= minority && len(upper) > 0:
			cur = upper
			lo = hi.Sub(hiStake)
		default:
			return pivot
		}
	}
	return 0
}

// WeightedMedianColSparse is the consensus: for each of cols columns the stake-weighted median
// of the rows with positive stake, with minority = Σstake − majority (κ).
func WeightedMedianColSparse(stake []I32F32, score Sparse, cols int, majority I32F32) []I32F32 {
	var use []I32F32
	for _, s := range stake {
		if s > 0 {
			use = append(use, s)
		}
	}
	Normalize(use)
	sum := Sum(use)
	minority := sum.Sub(majority)
	idx := make([]int, len(use))
	for i := range idx {
		idx[i] = i
	}
	colScores := make([][]I32F32, cols)
	for j := range colScores {
		colScores[j] = make([]I32F32, len(use))
	}
	k := 0
	for i := 0; i < len(stake) && i < len(score); i++ {
		if stake[i] > 0 {
			for _, c := range score[i] {
				if int(c.Col) < cols {
					colScores[c.Col][k] = c.Val
				}
			}
			k++
		}
	}
	out := make([]I32F32, cols)
	for j := range out {
		out[j] = WeightedMedian(use, colScores[j], idx, minority, 0, sum)
	}
	return out
}

// interpolate returns m1 + ratio·(m2 − m1) keeping positive entries in column order; ratio 0
// and 1 return m1 and m2 unchanged.
func interpolate(m1, m2 Sparse, cols int, ratio I32F32) Sparse {
	if ratio == 0 {
		return m1.clone()
	}
	if ratio == One || len(m1) != len(m2) {
		return m2.clone()
	}
	out := make(Sparse, len(m1))
	r1 := make([]I32F32, cols)
	r2 := make([]I32F32, cols)
	for i := range m1 {
		clear(r1)
		clear(r2)
		for _, c := range m1[i] {
			if int(c.Col) < cols {
				r1[c.Col] = c.Val
			}
		}
		for _, c := range m2[i] {
			if int(c.Col) < cols {
				r2[c.Col] = c.Val
			}
		}
		var row []Cell
		for j := 0; j < cols; j++ {
			v := r1[j].Add(ratio.Mul(r2[j].Sub(r1[j])))
			if v > 0 {
				row = append(row, Cell{uint16(j), v})
			}
		}
		out[i] = row
	}
	return out
}

// vecMul multiplies element-wise; an overflowing product gives 0 (checked_mul…unwrap_or_default).
func vecMul(a, b []I32F32) []I32F32 {
	out := make([]I32F32, min(len(a), len(b)))
	for i := range out {
		if v, ok := a[i].CheckedMul(b[i]); ok {
			out[i] = v
		}
	}
	return out
}

// matVecMul multiplies column j by v[j], keeping non-zero products.
func matVecMul(m Sparse, v []I32F32) Sparse {
	out := make(Sparse, len(m))
	for i, r := range m {
		for _, c := range r {
			if int(c.Col) < len(v) {
				if x := c.Val.Mul(v[c.Col]); x != 0 {
					out[i] = append(out[i], Cell{c.Col, x})
				}
			}
		}
	}
	return out
}

// matEMA is α·new + (1−α)·old over a dense row of len(new) columns, keeping positives.
func matEMA(newM, old Sparse, alpha I32F32) Sparse {
	n := len(newM)
	oneMinus := One.Sub(alpha)
	out := make(Sparse, n)
	acc := make([]I32F32, n)
	for i, r := range newM {
		clear(acc)
		for _, c := range r {
			if int(c.Col) < n {
				acc[c.Col] = acc[c.Col].Add(alpha.Mul(c.Val))
			}
		}
		if i < len(old) {
			for _, c := range old[i] {
				if int(c.Col) < n {
					acc[c.Col] = acc[c.Col].Add(oneMinus.Mul(c.Val))
				}
			}
		}
		var row []Cell
		for j, v := range acc {
			if v > 0 {
				row = append(row, Cell{uint16(j), v})
			}
		}
		out[i] = row
	}
	return out
}

// matEMAAlpha is the liquid-alpha EMA: min(1, (1−α_ij)·old_ij + max(0, α_ij·new_ij)) for the
// columns present in new's row only, in new's order, keeping positives.
func matEMAAlpha(newM, old Sparse, alpha [][]I32F32) Sparse {
	if len(newM) != len(old) || len(newM) != len(alpha) {
		return newM.clone()
	}
	out := make(Sparse, len(newM))
	for i, r := range newM {
		ar := alpha[i]
		decayed := make([]I32F32, len(ar))
		for _, c := range old[i] {
			if int(c.Col) < len(ar) {
				decayed[c.Col] = One.Sub(ar[c.Col]).Mul(c.Val)
			}
		}
		var row []Cell
		for _, c := range r {
			if int(c.Col) < len(ar) {
				inc := max(ar[c.Col].Mul(c.Val), 0)
				v := min(decayed[c.Col].Add(inc), One)
				if v > 0 {
					row = append(row, Cell{c.Col, v})
				}
			}
		}
		out[i] = row
	}
	return out
}

// MaxUpscaleToU16 is vec_max_upscale_to_u16: scale so the maximum becomes 65535, rounding half
// away from zero (a zero maximum gives floor(x·65535); an empty vector gives an empty result).
func MaxUpscaleToU16(v []I32F32) []uint16 {
	out := make([]uint16, len(v))
	if len(v) == 0 {
		return out
	}
	mx := v[0]
	for _, x := range v[1:] {
		mx = max(mx, x)
	}
	for i, e := range v {
		switch {
		case mx == 0:
			out[i] = e.Mul(maxU16).ToU16()
		case mx > FromInt(32768):
			out[i] = e.Mul(maxU16.Div(mx)).Round().ToU16()
		default:
			out[i] = e.Mul(maxU16).Div(mx).Round().ToU16()
		}
	}
	return out
}

// U16MaxUpscaleToU16 is vec_u16_max_upscale_to_u16, the form set_weights stores weights in.
func U16MaxUpscaleToU16(v []uint16) []uint16 {
	f := make([]I32F32, len(v))
	for i, x := range v {
		f[i] = U16ToFixed(x)
	}
	return MaxUpscaleToU16(f)
}

// IsTopK marks the k largest entries, zeros included: an ascending stable sort drops the n−k
// smallest; when n < k every entry wins (is_topk, spec < 268).
func IsTopK(v []I32F32, k int) []bool {
	return topK(v, k, false)
}

// topK keeps the k largest entries of v (ascending stable sort, the n−k smallest dropped); with
// nonzero, zero entries never win.
func topK(v []I32F32, k int, nonzero bool) []bool {
	n := len(v)
	out := make([]bool, n)
	for i, x := range v {
		out[i] = !nonzero || x != 0
	}
	if n < k {
		return out
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	for _, i := range idx[:n-k] {
		out[i] = false
	}
	return out
}

// vecDiv is x_i / y_i, 0 where y_i is 0 (vecdiv).
func vecDiv(x, y []I32F32) []I32F32 {
	out := make([]I32F32, len(x))
	for i := range x {
		if i < len(y) && y[i] != 0 {
			out[i] = x[i].Div(y[i])
		}
	}
	return out
}
