package batch

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestMergeReusesScratch merges a batch of three requests and then one of
// two through the same scratch: the second reuses the first's buffer, holds
// exactly its own requests' rows, and neither shares memory with a
// request's own input.
func TestMergeReusesScratch(t *testing.T) {
	jobsOf := func(qs ...req) []*job {
		var out []*job
		for _, q := range qs {
			out = append(out, &job{inputs: q.inputs(), items: q.items})
		}
		return out
	}
	var scratch [][]byte
	first := jobsOf(req{id: 1, items: 2, width: 3}, req{id: 2, items: 1, width: 3}, req{id: 3, items: 1, width: 3})
	m1 := merge(first, 4, &scratch)
	if got, want := views(m1[:1])[0].Ints, append(append(append([]int64{}, views(first[0].inputs)[0].Ints...), views(first[1].inputs)[0].Ints...), views(first[2].inputs)[0].Ints...); !cmp.Equal(got, want) {
		t.Fatalf("first merge: %v, want %v", got, want)
	}
	p1 := unsafe.SliceData(m1[0].Data)

	second := jobsOf(req{id: 7, items: 1, width: 3}, req{id: 8, items: 1, width: 3})
	m2 := merge(second, 2, &scratch)
	if unsafe.SliceData(m2[0].Data) != p1 {
		t.Errorf("the second merge allocated a new buffer for x instead of reusing the first's")
	}
	want := append(append([]int64{}, views(second[0].inputs)[0].Ints...), views(second[1].inputs)[0].Ints...)
	if got := views(m2[:1])[0].Ints; !cmp.Equal(got, want) {
		t.Errorf("second merge: %v, want %v", got, want)
	}
	if m2[0].Shape[0] != 2 || len(m2[0].Data) != 2*3*4 {
		t.Errorf("second merge: shape %v, %d bytes; want [2 3], 24 bytes", m2[0].Shape, len(m2[0].Data))
	}
	for _, j := range append(first, second...) {
		if unsafe.SliceData(j.inputs[0].Data) == p1 {
			t.Errorf("a request's input shares the scratch buffer")
		}
	}
	if got := views(m2[1:])[0].Strs; !cmp.Equal(got, []string{"r7.0", "r8.0"}) {
		t.Errorf("BYTES input: %v", got)
	}
}
