package loadgen

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/tensor"
)

// InputSpec is one model input as the load generator sees it: a name, a
// datatype and the declared shape, -1 marking a variable dimension. A
// variable first dimension is the batch axis.
type InputSpec struct {
	Name     string
	DataType tensor.DataType
	Shape    []int64
}

// SpecsFromMetadata converts the inputs of a model's metadata.
func SpecsFromMetadata(md *api.ModelMetadata) ([]InputSpec, error) {
	specs := make([]InputSpec, 0, len(md.Inputs))
	for _, in := range md.Inputs {
		dt, err := tensor.ParseDataType(in.Datatype)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		specs = append(specs, InputSpec{Name: in.Name, DataType: dt, Shape: slices.Clone(in.Shape)})
	}
	return specs, nil
}

// specsFromIO converts the inputs an ONNX file declares.
func specsFromIO(io models.IO) []InputSpec {
	specs := make([]InputSpec, 0, len(io.Inputs))
	for _, in := range io.Inputs {
		specs = append(specs, InputSpec{Name: in.Name, DataType: in.DataType, Shape: slices.Clone(in.Shape)})
	}
	return specs
}

// hasBatchAxis reports whether the shape's first dimension is variable.
func hasBatchAxis(shape []int64) bool { return len(shape) > 0 && shape[0] < 0 }

// Shapes fixes the variable dimensions of inputs by name, as perf_analyzer's
// --shape does: the dimensions after the batch axis for inputs whose first
// dimension is variable, every dimension otherwise.
type Shapes map[string][]int64

// Set parses one name:d1,d2,... and adds it; it implements flag.Value. The
// name is everything before the last colon, so names like "input:0" work.
func (s Shapes) Set(v string) error {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 {
		return fmt.Errorf("%q: want name:d1,d2,... (e.g. x:3,48,192)", v)
	}
	name, list := v[:i], v[i+1:]
	var dims []int64
	if list != "" {
		for _, f := range strings.Split(list, ",") {
			d, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || d < 1 {
				return fmt.Errorf("%q: dimension %q is not a positive integer", v, f)
			}
			dims = append(dims, d)
		}
	}
	if _, dup := s[name]; dup {
		return fmt.Errorf("%q: input %s given twice", v, name)
	}
	s[name] = dims
	return nil
}

// String renders the shapes sorted by name; it implements flag.Value.
func (s Shapes) String() string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, name+":"+shapeTemplate(s[name]))
	}
	return strings.Join(parts, " ")
}

// ConcreteShapes returns, for each input whose dimensions after the batch
// axis (or all of them, without one) are all fixed, those dimensions: what
// a served model's metadata tells about the shapes a raw run of the same
// file should use.
func ConcreteShapes(specs []InputSpec) Shapes {
	out := Shapes{}
	for _, s := range specs {
		rest := s.Shape
		if hasBatchAxis(rest) {
			rest = rest[1:]
		}
		if !slices.ContainsFunc(rest, func(d int64) bool { return d < 0 }) {
			out[s.Name] = slices.Clone(rest)
		}
	}
	return out
}

// ItemsPerRequest is the number of batch items one request of the given
// batch size carries: batch when some input has a batch axis, else 1.
func ItemsPerRequest(specs []InputSpec, batch int) int {
	if slices.ContainsFunc(specs, func(s InputSpec) bool { return hasBatchAxis(s.Shape) }) {
		return batch
	}
	return 1
}

// ResolveShapes returns the concrete shape of every input for requests of
// batch items: the batch axis becomes batch, other variable dimensions come
// from shapes. It fails, naming the input and the --shape flag, when a
// variable dimension is not given, when a given shape contradicts a fixed
// dimension or has the wrong rank, when shapes names an input the model does
// not have, or when batch > 1 for a model without a batch axis.
func ResolveShapes(specs []InputSpec, batch int, shapes Shapes) ([][]int64, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d: must be at least 1", batch)
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	for name := range shapes {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("--shape %s: the model has no input %q (inputs: %s)", name, name, strings.Join(names, ", "))
		}
	}
	anyBatch := false
	out := make([][]int64, len(specs))
	for i, s := range specs {
		batchAxis := hasBatchAxis(s.Shape)
		anyBatch = anyBatch || batchAxis
		rest := s.Shape
		if batchAxis {
			rest = rest[1:]
		}
		given, ok := shapes[s.Name]
		switch {
		case ok && len(given) != len(rest):
			what := "dimensions"
			if batchAxis {
				what = "dimensions after the batch axis"
			}
			return nil, fmt.Errorf("--shape %s: input %q has %d %s (declared %s), got %d", s.Name, s.Name, len(rest), what, tensor.FormatShape(s.Shape), len(given))
		case ok:
			for j, d := range rest {
				if d >= 0 && d != given[j] {
					return nil, fmt.Errorf("--shape %s: dimension %d of input %q is fixed at %d by the model (declared %s), got %d", s.Name, j+len(s.Shape)-len(rest), s.Name, d, tensor.FormatShape(s.Shape), given[j])
				}
			}
		default:
			if slices.ContainsFunc(rest, func(d int64) bool { return d < 0 }) {
				return nil, fmt.Errorf("input %q has variable dimensions (declared %s): fix them with --shape %s:%s", s.Name, tensor.FormatShape(s.Shape), s.Name, shapeTemplate(rest))
			}
			given = rest
		}
		shape := make([]int64, 0, len(s.Shape))
		if batchAxis {
			shape = append(shape, int64(batch))
		}
		out[i] = append(shape, given...)
	}
	if !anyBatch && batch != 1 {
		return nil, fmt.Errorf("batch size %d: the model has no batch axis (no input has a variable first dimension), so each request carries 1 item", batch)
	}
	return out, nil
}

// shapeTemplate renders dims with D1, D2, ... in place of variable ones.
func shapeTemplate(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if d < 0 {
			parts[i] = "D" + strconv.Itoa(i+1)
		} else {
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return strings.Join(parts, ",")
}

// BuildInputs returns random inputs for requests of batch items (see
// ResolveShapes for the shapes): real values uniform in [-1, 1) for the
// floating-point types, integers in [0, 10), random booleans, and short
// random lowercase strings for BYTES.
func BuildInputs(specs []InputSpec, batch int, shapes Shapes, rng *rand.Rand) ([]tensor.Tensor, error) {
	resolved, err := ResolveShapes(specs, batch, shapes)
	if err != nil {
		return nil, err
	}
	out := make([]tensor.Tensor, len(specs))
	for i, s := range specs {
		t := tensor.Tensor{Name: s.Name, DataType: s.DataType, Shape: resolved[i]}
		if err := fillRandom(&t, rng); err != nil {
			return nil, fmt.Errorf("input %q: %w", s.Name, err)
		}
		out[i] = t
	}
	return out, nil
}

// fillRandom fills t's storage with random values of its datatype.
func fillRandom(t *tensor.Tensor, rng *rand.Rand) error {
	n := int(t.NumElements())
	if t.DataType == tensor.Bytes {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		t.Strings = make([][]byte, n)
		for i := range t.Strings {
			s := make([]byte, 1+rng.IntN(8))
			for j := range s {
				s[j] = letters[rng.IntN(len(letters))]
			}
			t.Strings[i] = s
		}
		return nil
	}
	size := t.DataType.Size()
	if size == 0 {
		return fmt.Errorf("datatype %s cannot be generated", t.DataType)
	}
	t.Data = make([]byte, n*size)
	le := binary.LittleEndian
	for i := range n {
		b := t.Data[i*size:]
		real := rng.Float64()*2 - 1
		small := uint64(rng.IntN(10))
		switch t.DataType {
		case tensor.Bool:
			b[0] = byte(rng.IntN(2))
		case tensor.Uint8, tensor.Int8:
			b[0] = byte(small)
		case tensor.Uint16, tensor.Int16:
			le.PutUint16(b, uint16(small))
		case tensor.Uint32, tensor.Int32:
			le.PutUint32(b, uint32(small))
		case tensor.Uint64, tensor.Int64:
			le.PutUint64(b, small)
		case tensor.FP16:
			le.PutUint16(b, api.Float64ToFP16(real))
		case tensor.BF16:
			le.PutUint16(b, api.Float64ToBF16(real))
		case tensor.FP32:
			le.PutUint32(b, math.Float32bits(float32(real)))
		case tensor.FP64:
			le.PutUint64(b, math.Float64bits(real))
		default:
			return fmt.Errorf("datatype %s cannot be generated", t.DataType)
		}
	}
	return nil
}
