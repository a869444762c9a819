package batch

import (
	"fmt"
	"slices"

	"github.com/taominer/taominer/models/tensor"
)

// sameItemShape reports whether two requests agree on every dimension but
// the batch dimension, so their inputs can be concatenated.
func sameItemShape(a, b *job) bool {
	for i := range a.inputs {
		if !slices.Equal(a.inputs[i].Shape[1:], b.inputs[i].Shape[1:]) {
			return false
		}
	}
	return true
}

// maxScratch bounds the merge buffer a worker keeps for one input between
// batches, so that one giant batch does not pin its memory.
const maxScratch = 32 << 20

// merge concatenates the batch's inputs along the first dimension. The
// numeric inputs are written into scratch, one buffer per input that a
// worker keeps across its batches (grown as needed), so that a merged batch
// allocates and clears no new memory for its data.
func merge(batch []*job, items int, scratch *[][]byte) []tensor.Tensor {
	first := batch[0].inputs
	out := make([]tensor.Tensor, len(first))
	for i, in := range first {
		t := tensor.Tensor{Name: in.Name, DataType: in.DataType, Shape: slices.Clone(in.Shape)}
		t.Shape[0] = int64(items)
		if in.DataType == tensor.Bytes {
			t.Strings = make([][]byte, 0, len(in.Strings)/max(batch[0].items, 1)*items)
			for _, j := range batch {
				t.Strings = append(t.Strings, j.inputs[i].Strings...)
			}
		} else {
			if len(*scratch) <= i {
				*scratch = append(*scratch, make([][]byte, i+1-len(*scratch))...)
			}
			t.Data = (*scratch)[i][:0]
			for _, j := range batch {
				t.Data = append(t.Data, j.inputs[i].Data...)
			}
			if cap(t.Data) <= maxScratch {
				(*scratch)[i] = t.Data
			} else {
				(*scratch)[i] = nil // a rare giant: not kept
			}
		}
		out[i] = t
	}
	return out
}

// split cuts each output along the first dimension into the requests'
// shares. Slices alias the batch's output buffers.
func split(outputs []tensor.Tensor, batch []*job, batching bool) ([][]tensor.Tensor, error) {
	parts := make([][]tensor.Tensor, len(batch))
	if !batching || len(batch) == 1 {
		parts[0] = outputs
		return parts, nil
	}
	items := 0
	for _, j := range batch {
		items += j.items
	}
	for i := range parts {
		parts[i] = make([]tensor.Tensor, len(outputs))
	}
	for o, out := range outputs {
		if len(out.Shape) == 0 || out.Shape[0] != int64(items) {
			return nil, fmt.Errorf("output %q has shape %v, want first dimension %d (the batch)", out.Name, out.Shape, items)
		}
		if err := out.Validate(); err != nil {
			return nil, fmt.Errorf("model returned an inconsistent output: %w", err)
		}
		per := tensor.NumElements(out.Shape[1:])
		off := int64(0)
		for i, j := range batch {
			t := tensor.Tensor{Name: out.Name, DataType: out.DataType, Shape: slices.Clone(out.Shape)}
			t.Shape[0] = int64(j.items)
			n := per * int64(j.items)
			if out.DataType == tensor.Bytes {
				t.Strings = out.Strings[off : off+n : off+n]
			} else {
				sz := int64(out.DataType.Size())
				t.Data = out.Data[off*sz : (off+n)*sz : (off+n)*sz]
			}
			off += n
			parts[i][o] = t
		}
	}
	return parts, nil
}
