package models

import (
	"errors"
	"fmt"
	"testing"
)

func TestHasBatchAxis(t *testing.T) {
	spec := func(shapes ...[]int64) []TensorSpec {
		var out []TensorSpec
		for i, s := range shapes {
			out = append(out, TensorSpec{Name: fmt.Sprint("t", i), Shape: s})
		}
		return out
	}
	tests := []struct {
		name string
		io   IO
		want bool
	}{
		{"all dynamic first", IO{spec([]int64{-1, 3}, []int64{-1}), spec([]int64{-1, 2})}, true},
		{"dynamic everywhere", IO{spec([]int64{-1, -1}), spec([]int64{-1, -1})}, true},
		{"fixed input", IO{spec([]int64{-1, 3}, []int64{1, 3}), spec([]int64{-1})}, false},
		{"fixed output", IO{spec([]int64{-1, 3}), spec([]int64{-1}, []int64{4})}, false},
		{"first dim zero", IO{spec([]int64{0, 3}), spec([]int64{-1})}, false},
		{"scalar input", IO{spec([]int64{}), spec([]int64{-1})}, false},
		{"scalar output", IO{spec([]int64{-1}), spec(nil)}, false},
		{"dynamic only later", IO{spec([]int64{1, -1}), spec([]int64{1, -1})}, false},
		{"no inputs", IO{nil, spec([]int64{-1})}, false},
		{"no outputs", IO{spec([]int64{-1}), nil}, false},
		{"nothing", IO{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.io.HasBatchAxis(); got != tt.want {
				t.Errorf("%+v.HasBatchAxis() = %v, want %v", tt.io, got, tt.want)
			}
		})
	}
}

func TestShapeMatches(t *testing.T) {
	tests := []struct {
		declared, got []int64
		want          bool
	}{
		{[]int64{1, 3}, []int64{1, 3}, true},
		{[]int64{-1, 3}, []int64{5, 3}, true},
		{[]int64{-1, -1}, []int64{0, 7}, true},
		{[]int64{}, []int64{}, true},
		{nil, []int64{}, true},
		{[]int64{1, 3}, []int64{1, 4}, false},
		{[]int64{1, 3}, []int64{2, 3}, false},
		{[]int64{-1, 3}, []int64{5}, false},
		{[]int64{-1}, []int64{5, 1}, false},
		{[]int64{}, []int64{1}, false},
		{[]int64{-1, 3}, []int64{-1, 3}, false}, // a concrete shape has no variable dims
		{[]int64{2}, []int64{-2}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%v", tt.declared, tt.got), func(t *testing.T) {
			if got := ShapeMatches(tt.declared, tt.got); got != tt.want {
				t.Errorf("ShapeMatches(%v, %v) = %v, want %v", tt.declared, tt.got, got, tt.want)
			}
		})
	}
}

func TestSpecLookup(t *testing.T) {
	s := &Spec{IO: IO{
		Inputs:  []TensorSpec{{Name: "a", Shape: []int64{1}}, {Name: "b", Shape: []int64{2}}},
		Outputs: []TensorSpec{{Name: "y", Shape: []int64{3}}},
	}}
	tests := []struct {
		name   string
		lookup func(string) (TensorSpec, bool)
		arg    string
		want   int64 // the first dim of the found spec, -99 for not found
	}{
		{"input a", s.Input, "a", 1},
		{"input b", s.Input, "b", 2},
		{"input y is an output", s.Input, "y", -99},
		{"output y", s.Output, "y", 3},
		{"output a is an input", s.Output, "a", -99},
		{"empty name", s.Input, "", -99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.lookup(tt.arg)
			switch {
			case tt.want == -99 && ok:
				t.Errorf("lookup(%q) = %+v, true; want not found", tt.arg, got)
			case tt.want != -99 && (!ok || got.Name != tt.arg || got.Shape[0] != tt.want):
				t.Errorf("lookup(%q) = %+v, %v; want %s with first dim %d", tt.arg, got, ok, tt.arg, tt.want)
			}
		})
	}
}

func TestLoadError(t *testing.T) {
	inner := errors.New("bad graph")
	err := error(&LoadError{Model: "m", Version: "2", Err: inner})
	if got, want := err.Error(), "load model m version 2: bad graph"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Errorf("errors.Is(%v, inner) = false, want true", err)
	}
}
