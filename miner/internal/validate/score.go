package validate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/taominer/taominer/models/tensor"
)

// answerTensor is an output tensor of an Infer answer.
type answerTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	Data  []any   `json:"data"`
}

// refOutput is one reference output, as float64 values.
type refOutput struct {
	name   string
	shape  []int64
	values []float64
}

// scoreOutputs scores an Infer answer's outputs (KServe v2 JSON tensors, flat data) against the
// reference: per reference output 1 − ‖a − r‖₂ / ‖r‖₂ clamped to [0, 1] (when ‖r‖₂ is 0, the
// absolute error ‖a‖₂), 0 for a missing output or another shape, averaged. The
// error names what was wrong with a missing or malformed output; the score still counts the rest.
func scoreOutputs(raw json.RawMessage, ref []refOutput) (float64, error) {
	var outs []answerTensor
	if err := json.Unmarshal(raw, &outs); err != nil {
		return 0, fmt.Errorf("outputs: %w", err)
	}
	if len(ref) == 0 {
		return 1, nil
	}
	var errs []error
	var total float64
	for _, r := range ref {
		i := slices.IndexFunc(outs, func(o answerTensor) bool { return o.Name == r.name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("output %q missing", r.name))
			continue
		}
		o := outs[i]
		if !slices.Equal(o.Shape, r.shape) {
			errs = append(errs, fmt.Errorf("output %q: shape %v, want %v", r.name, o.Shape, r.shape))
			continue
		}
		got, err := jsonValues(o.Data)
		if err != nil || len(got) != len(r.values) {
			errs = append(errs, fmt.Errorf("output %q: %d values (%v), want %d", r.name, len(got), err, len(r.values)))
			continue
		}
		var diff, norm float64
		for k, want := range r.values {
			d := got[k] - want
			diff += d * d
			norm += want * want
		}
		if norm == 0 {
			norm = 1
		}
		e := math.Sqrt(diff / norm)
		if math.IsNaN(e) {
			e = 1
		}
		total += max(0, 1-e)
	}
	return total / float64(len(ref)), errors.Join(errs...)
}

// jsonValues reads flat JSON data as float64 (true = 1; "NaN", "Infinity" as Go parses them).
func jsonValues(data []any) ([]float64, error) {
	out := make([]float64, len(data))
	for i, d := range data {
		switch x := d.(type) {
		case float64:
			out[i] = x
		case bool:
			if x {
				out[i] = 1
			}
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("value %d: %q is not a number", i, x)
			}
			out[i] = f
		default:
			return nil, fmt.Errorf("value %d: %v is not a number (nested data?)", i, d)
		}
	}
	return out, nil
}

// tensorValues reads a numeric or boolean tensor as float64 values.
func tensorValues(t tensor.Tensor) ([]float64, error) {
	size := t.DataType.Size()
	if size == 0 || t.DataType == tensor.FP16 || t.DataType == tensor.BF16 {
		return nil, fmt.Errorf("datatype %s is not scored", t.DataType)
	}
	n := len(t.Data) / size
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range n {
		b := t.Data[i*size:]
		switch t.DataType {
		case tensor.FP32:
			out[i] = float64(math.Float32frombits(le.Uint32(b)))
		case tensor.FP64:
			out[i] = math.Float64frombits(le.Uint64(b))
		case tensor.Bool, tensor.Uint8:
			out[i] = float64(b[0])
		case tensor.Int8:
			out[i] = float64(int8(b[0]))
		case tensor.Uint16:
			out[i] = float64(le.Uint16(b))
		case tensor.Int16:
			out[i] = float64(int16(le.Uint16(b)))
		case tensor.Uint32:
			out[i] = float64(le.Uint32(b))
		case tensor.Int32:
			out[i] = float64(int32(le.Uint32(b)))
		case tensor.Uint64:
			out[i] = float64(le.Uint64(b))
		case tensor.Int64:
			out[i] = float64(int64(le.Uint64(b)))
		}
	}
	return out, nil
}
