package mapping

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/models/tensor"
)

// state is the values of one output for the n items of a run, as the step
// chain goes: rows of a vector (or matrix) of width d, or one scalar or
// list per item.
type state struct {
	k    kind
	n, d int
	t    int // tokens per item, for kMat (then d is the hidden width)
	vec  []float32
	nums []float64
	ints []int64
	strs []string
	il   [][]int64
	sl   [][]string
}

// postprocess runs spec's steps on the model output t (batch axis first,
// n items) and returns each item's JSON value.
func (m *Mapping) postprocess(spec Output, t *tensor.Tensor, n int, inputs map[string]*tensor.Tensor, syn *axonproto.Synapse) ([]json.RawMessage, error) {
	x, err := floats(t)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) == 0 || t.Shape[0] != int64(n) {
		return nil, fmt.Errorf("model output shape %s has no batch axis of %d", tensor.FormatShape(t.Shape), n)
	}
	st := &state{k: kVec, n: n, vec: x, d: 1}
	if n > 0 {
		st.d = len(x) / n
	}
	if len(spec.Steps) > 0 && (spec.Steps[0].Op == "mean_pool" || spec.Steps[0].Op == "cls_pool") {
		if len(t.Shape) != 3 {
			return nil, fmt.Errorf("%s needs a [batch, tokens, hidden] output, got %s", spec.Steps[0].Op, tensor.FormatShape(t.Shape))
		}
		st.k, st.t, st.d = kMat, int(t.Shape[1]), int(t.Shape[2])
	}
	for _, s := range spec.Steps {
		if err := m.step(st, s, inputs, syn); err != nil {
			return nil, fmt.Errorf("step %s: %w", s.Op, err)
		}
	}
	return st.encode()
}

func (m *Mapping) step(st *state, s Step, inputs map[string]*tensor.Tensor, syn *axonproto.Synapse) error {
	shape := []int{st.n, st.d}
	var err error
	switch s.Op {
	case "softmax":
		st.vec, err = kernels.Softmax(st.vec, shape)
	case "sigmoid":
		st.vec, err = kernels.Sigmoid(st.vec, shape)
	case "l2_normalize":
		on := true
		if s.Field != "" {
			on, err = boolParam(syn, s.Field, s.Default)
		}
		if err == nil && on {
			st.vec, err = kernels.L2Normalize(st.vec, shape, kernels.DefaultL2Epsilon)
		}
	case "truncate":
		w := s.N
		if s.Field != "" {
			w, err = intParam(syn, s.Field, s.Default)
		}
		if err != nil {
			return err
		}
		if w < 1 || w > st.d {
			return api.BadRequest("%s %d: the model gives %d values", nonEmpty(s.Field, "truncate"), w, st.d)
		}
		st.vec, _, err = kernels.Truncate(st.vec, shape, w)
		st.d = w
	case "clamp":
		if st.k == kFloat {
			for i, v := range st.nums {
				st.nums[i] = math.Min(math.Max(v, float64(s.Lo)), float64(s.Hi))
			}
			return nil
		}
		st.vec, err = kernels.Clamp(st.vec, shape, s.Lo, s.Hi)
	case "pick", "item", "max":
		idx := s.Index
		if s.Op == "item" {
			if st.d != 1 {
				return fmt.Errorf("expected one value per item, the model gives %d", st.d)
			}
			idx = 0
		}
		if idx >= st.d {
			return fmt.Errorf("class index %d, but the model gives %d classes", idx, st.d)
		}
		st.nums = make([]float64, st.n)
		for i := range st.n {
			row := st.vec[i*st.d : (i+1)*st.d]
			if s.Op == "max" {
				best := row[0]
				for _, v := range row[1:] {
					best = max(best, v)
				}
				st.nums[i] = float64(best)
			} else {
				st.nums[i] = float64(row[idx])
			}
		}
		st.k = kFloat
	case "argmax":
		var idx []int
		idx, _, err = kernels.Argmax(st.vec, shape)
		st.ints = make([]int64, len(idx))
		for i, v := range idx {
			st.ints[i] = int64(v)
		}
		st.k = kInt
	case "top_k":
		if s.K > st.d {
			return fmt.Errorf("k %d, but the model gives %d classes", s.K, st.d)
		}
		var idx []int
		_, idx, _, err = kernels.TopK(st.vec, shape, s.K)
		st.il = make([][]int64, st.n)
		for i := range st.n {
			for _, v := range idx[i*s.K : (i+1)*s.K] {
				st.il[i] = append(st.il[i], int64(v))
			}
		}
		st.k = kInts
	case "label":
		lab := func(i int64) (string, error) {
			if i < 0 || int(i) >= len(m.Labels) {
				return "", fmt.Errorf("class %d has no label (%d labels)", i, len(m.Labels))
			}
			return m.Labels[i], nil
		}
		if st.k == kInt {
			st.strs = make([]string, st.n)
			for i, v := range st.ints {
				if st.strs[i], err = lab(v); err != nil {
					return err
				}
			}
			st.k = kStr
			return nil
		}
		st.sl = make([][]string, st.n)
		for i, row := range st.il {
			for _, v := range row {
				l, err := lab(v)
				if err != nil {
					return err
				}
				st.sl[i] = append(st.sl[i], l)
			}
		}
		st.k = kStrs
	case "to_int":
		if st.k == kStr {
			st.ints = make([]int64, st.n)
			for i, v := range st.strs {
				if st.ints[i], err = strconv.ParseInt(v, 10, 64); err != nil {
					return fmt.Errorf("label %q is not an integer", v)
				}
			}
			st.k = kInt
		}
	case "to_float":
		nums := make([]float64, st.n)
		for i := range st.n {
			switch st.k {
			case kStr:
				if nums[i], err = strconv.ParseFloat(st.strs[i], 64); err != nil {
					return fmt.Errorf("label %q is not a number", st.strs[i])
				}
			case kInt:
				nums[i] = float64(st.ints[i])
			case kFloat:
				nums[i] = st.nums[i]
			}
		}
		st.nums, st.k = nums, kFloat
	case "mean_pool", "cls_pool":
		return st.pool(s, inputs)
	default:
		return fmt.Errorf("unknown step")
	}
	return err
}

// pool turns [n, t, d] into [n, d]: the first token (cls_pool), or the
// mean over the tokens the attention mask keeps (sentence-transformers'
// mean pooling: sum(mask·x) / max(sum(mask), 1e-9), accumulated in
// float64).
func (st *state) pool(s Step, inputs map[string]*tensor.Tensor) error {
	out := make([]float32, st.n*st.d)
	var mask []int64
	if s.Op == "mean_pool" {
		mt := inputs[s.Mask]
		if mt == nil || mt.DataType != tensor.Int64 || len(mt.Shape) != 2 || mt.Shape[0] != int64(st.n) || mt.Shape[1] != int64(st.t) {
			return fmt.Errorf("mask %q does not match the output's [%d, %d] tokens", s.Mask, st.n, st.t)
		}
		mask = make([]int64, st.n*st.t)
		for i := range mask {
			mask[i] = int64(binary.LittleEndian.Uint64(mt.Data[i*8:]))
		}
	}
	acc := make([]float64, st.d)
	for i := range st.n {
		base := st.vec[i*st.t*st.d:]
		if s.Op == "cls_pool" {
			copy(out[i*st.d:], base[:st.d])
			continue
		}
		clear(acc)
		cnt := 0.0
		for j := range st.t {
			w := float64(mask[i*st.t+j])
			if w == 0 {
				continue
			}
			cnt += w
			for h, v := range base[j*st.d : (j+1)*st.d] {
				acc[h] += w * float64(v)
			}
		}
		cnt = max(cnt, 1e-9)
		for h := range acc {
			out[i*st.d+h] = float32(acc[h] / cnt)
		}
	}
	st.vec, st.k = out, kVec
	return nil
}

// encode writes each item's value as JSON; NaN and infinities are
// ErrNotFinite (JSON cannot carry them).
func (st *state) encode() ([]json.RawMessage, error) {
	out := make([]json.RawMessage, st.n)
	for i := range st.n {
		var b []byte
		switch st.k {
		case kVec:
			b = append(b, '[')
			for j, v := range st.vec[i*st.d : (i+1)*st.d] {
				if j > 0 {
					b = append(b, ',')
				}
				f := float64(v)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return nil, ErrNotFinite
				}
				b = strconv.AppendFloat(b, f, 'g', -1, 32)
			}
			b = append(b, ']')
		case kFloat:
			f := st.nums[i]
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, ErrNotFinite
			}
			b = strconv.AppendFloat(b, float64(float32(f)), 'g', -1, 32)
			if math.Trunc(f) == f && !bytesContainAny(b, ".e") {
				b = append(b, ".0"...)
			}
		case kInt:
			b = strconv.AppendInt(b, st.ints[i], 10)
		case kStr:
			b, _ = marshalJSON(st.strs[i])
		case kInts:
			b, _ = json.Marshal(st.il[i])
		case kStrs:
			b, _ = marshalJSON(st.sl[i])
		default:
			return nil, fmt.Errorf("output ends as %s", st.k)
		}
		out[i] = b
	}
	return out, nil
}

func bytesContainAny(b []byte, chars string) bool {
	for _, c := range b {
		for _, x := range []byte(chars) {
			if c == x {
				return true
			}
		}
	}
	return false
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// intParam reads an integer synapse field (its default when absent or
// null).
func intParam(syn *axonproto.Synapse, field string, def json.RawMessage) (int, error) {
	raw, ok := syn.Field(field)
	if !ok || string(raw) == "null" {
		raw = def
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, api.BadRequest("field %q: expected an integer", field)
	}
	return v, nil
}

// boolParam reads a boolean synapse field (its default when absent or
// null).
func boolParam(syn *axonproto.Synapse, field string, def json.RawMessage) (bool, error) {
	raw, ok := syn.Field(field)
	if !ok || string(raw) == "null" {
		raw = def
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, api.BadRequest("field %q: expected true or false", field)
	}
	return v, nil
}

// floats converts a numeric output tensor to float32.
func floats(t *tensor.Tensor) ([]float32, error) {
	n := int(t.NumElements())
	out := make([]float32, n)
	size := t.DataType.Size()
	if size == 0 || len(t.Data) != n*size {
		return nil, fmt.Errorf("output %q: %s data does not match its shape %s", t.Name, t.DataType, tensor.FormatShape(t.Shape))
	}
	for i := range out {
		b := t.Data[i*size:]
		switch t.DataType {
		case tensor.FP32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		case tensor.FP64:
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		case tensor.FP16:
			out[i] = api.FP16ToFloat32(binary.LittleEndian.Uint16(b))
		case tensor.BF16:
			out[i] = api.BF16ToFloat32(binary.LittleEndian.Uint16(b))
		case tensor.Int64:
			out[i] = float32(int64(binary.LittleEndian.Uint64(b)))
		case tensor.Int32:
			out[i] = float32(int32(binary.LittleEndian.Uint32(b)))
		case tensor.Uint8, tensor.Bool:
			out[i] = float32(b[0])
		case tensor.Int8:
			out[i] = float32(int8(b[0]))
		default:
			return nil, fmt.Errorf("output %q: %s is not supported", t.Name, t.DataType)
		}
	}
	return out, nil
}
