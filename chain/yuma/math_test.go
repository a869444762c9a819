package yuma

import "testing"

func fixeds(v ...float32) []I32F32 {
	out := make([]I32F32, len(v))
	for i, x := range v {
		out[i] = FromF32(x)
	}
	return out
}

// denseToSparse keeps non-zero entries, as the chain's tests build sparse inputs.
func denseToSparse(rows, cols int, v []float32) Sparse {
	m := make(Sparse, rows)
	for i := range rows {
		for j := range cols {
			if x := v[i*cols+j]; x != 0 {
				m[i] = append(m[i], Cell{uint16(j), FromF32(x)})
			}
		}
	}
	return m
}

// TestWeightedMedianColSparse re-runs tests/math.rs test_math_weighted_median_col_sparse
// (§7.4 E); the chain asserts exact equality with fixed(f32) values.
func TestWeightedMedianColSparse(t *testing.T) {
	w1 := []float32{0, .1, 0, 0, .2, .4, 0, .3, .1, 0, .4, .5}
	w2 := []float32{0, .1, 0, 0, .2, .4, 0, .3, .1, 0, 0, .5}
	tests := []struct {
		name  string
		stake []float32
		w     []float32
		kappa float32
		want  []float32
	}{
		{"kappa .24", []float32{0, .75, .25, 0}, w1, .24, []float32{0, .3, .4}},
		{"kappa .26", []float32{0, .75, .25, 0}, w1, .26, []float32{0, .2, .4}},
		{"kappa .76", []float32{0, .75, .25, 0}, w1, .76, []float32{0, .2, .1}},
		{"kappa .51", []float32{0, .3, .2, .5}, w2, .51, []float32{0, 0, .4}},
		{"zero stake", []float32{0, 0, 0, 0}, w1, .51, []float32{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WeightedMedianColSparse(fixeds(tt.stake...), denseToSparse(4, 3, tt.w), 3, FromF32(tt.kappa))
			want := fixeds(tt.want...)
			for j := range want {
				if got[j] != want[j] {
					t.Errorf("median[%d] = %s, want %s", j, got[j], want[j])
				}
			}
		})
	}
}

// TestWeightedMedian re-runs the deterministic cases of tests/math.rs test_math_weighted_median
// (minority = 1 − 0.51, hi = Σstake, stakes as given except where the chain normalizes).
func TestWeightedMedian(t *testing.T) {
	tests := []struct {
		name         string
		stake, score []float32
		normalize    bool
		want         float32
	}{
		{"empty", nil, nil, false, 0},
		{"single normalized", []float32{.51}, []float32{1}, true, 1},
		{"minority low", []float32{.49, .51}, []float32{.5, 1}, false, 1},
		{"majority low", []float32{.51, .49}, []float32{.5, 1}, false, .5},
		{"zero stake middle", []float32{.49, 0, .51}, []float32{.5, .7, 1}, false, 1},
		{"small middle", []float32{.49, .01, .5}, []float32{.5, .7, 1}, false, .7},
		{"zero stake top", []float32{.49, .51, 0}, []float32{.5, .7, 1}, false, .7},
		{"zero stake bottom", []float32{0, .49, .51}, []float32{.5, .7, 1}, false, 1},
		{"equal scores", []float32{0, .49, 0, .51}, []float32{.5, .5, 1, 1}, false, 1},
		{"equal scores trailing zero", []float32{0, .49, 0, .51, 0}, []float32{.5, .5, 1, 1, .5}, false, 1},
		{"five equal stakes", []float32{.2, .2, .2, .2, .2}, []float32{.8, .2, 1, .6, .4}, false, .6},
		{"ten equal stakes", []float32{.1, .1, .1, .1, .1, .1, .1, .1, .1, .1}, []float32{.8, .8, .2, .2, 1, 1, .6, .6, .4, .4}, false, .6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stake := fixeds(tt.stake...)
			if tt.normalize {
				Normalize(stake)
			}
			idx := make([]int, len(stake))
			for i := range idx {
				idx[i] = i
			}
			got := WeightedMedian(stake, fixeds(tt.score...), idx, One.Sub(FromF32(.51)), 0, Sum(stake))
			if got != FromF32(tt.want) {
				t.Errorf("median = %s, want %s", got, FromF32(tt.want))
			}
		})
	}
}

func TestIsTopKNonzero(t *testing.T) {
	tests := []struct {
		name string
		v    []float32
		k    int
		want []bool
	}{
		{"zero stake never wins", []float32{.1, .2, .3, .4, 0, 0, 0, 0}, 8, []bool{true, true, true, true, false, false, false, false}},
		{"top 2", []float32{.4, .1, .3, .2}, 2, []bool{true, false, true, false}},
		{"ties keep later (stable ascending drop)", []float32{.5, .5, .5}, 2, []bool{false, true, true}},
		{"n < k", []float32{0, .5}, 5, []bool{false, true}},
	}
	for _, tt := range tests {
		got := IsTopKNonzero(fixeds(tt.v...), tt.k)
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}
