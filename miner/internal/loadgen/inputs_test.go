package loadgen

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/models/tensor"
)

// TestBuildInputsEveryDatatype generates each datatype, checks the values'
// ranges, and checks that both encodings decode back to the same tensor.
func TestBuildInputsEveryDatatype(t *testing.T) {
	le := binary.LittleEndian
	for dt := tensor.Bool; dt <= tensor.Bytes; dt++ {
		t.Run(dt.String(), func(t *testing.T) {
			specs := []InputSpec{{Name: "in", DataType: dt, Shape: []int64{-1, 2, 3}}}
			in, err := BuildInputs(specs, 4, nil, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			x := in[0]
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Shape, []int64{4, 2, 3}) || x.Name != "in" || x.DataType != dt {
				t.Fatalf("got %s %s %v, want in %s [4 2 3]", x.Name, x.DataType, x.Shape, dt)
			}
			values := map[float64]bool{}
			for i := range 24 {
				var v float64
				switch dt {
				case tensor.Bytes:
					s := string(x.Strings[i])
					if len(s) < 1 || len(s) > 8 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
						t.Fatalf("string %q: want 1..8 lowercase letters", s)
					}
					v = float64(len(s))
				case tensor.Bool, tensor.Uint8, tensor.Int8:
					v = float64(x.Data[i])
				case tensor.Uint16, tensor.Int16:
					v = float64(le.Uint16(x.Data[2*i:]))
				case tensor.Uint32, tensor.Int32:
					v = float64(le.Uint32(x.Data[4*i:]))
				case tensor.Uint64, tensor.Int64:
					v = float64(le.Uint64(x.Data[8*i:]))
				case tensor.FP16:
					v = float64(api.FP16ToFloat32(le.Uint16(x.Data[2*i:])))
				case tensor.BF16:
					v = float64(api.BF16ToFloat32(le.Uint16(x.Data[2*i:])))
				case tensor.FP32:
					v = float64(math.Float32frombits(le.Uint32(x.Data[4*i:])))
				case tensor.FP64:
					v = math.Float64frombits(le.Uint64(x.Data[8*i:]))
				}
				lo, hi := 0.0, 9.0
				switch dt {
				case tensor.Bool:
					hi = 1
				case tensor.FP16, tensor.BF16, tensor.FP32, tensor.FP64:
					lo, hi = -1, 1
				case tensor.Bytes:
					lo, hi = 1, 8
				}
				if v < lo || v > hi {
					t.Errorf("element %d = %v, want within [%v, %v]", i, v, lo, hi)
				}
				values[v] = true
			}
			if len(values) < 2 {
				t.Errorf("24 random elements hold %d distinct values", len(values))
			}
			for _, binaryBody := range []bool{false, true} {
				body, hl := api.AppendInferRequest(nil, &api.InferRequest{Inputs: in}, binaryBody)
				if !binaryBody {
					hl = -1
				}
				req, err := api.DecodeInferRequest(body, hl)
				if err != nil {
					t.Fatalf("binary %v: decode: %v", binaryBody, err)
				}
				got := req.Inputs[0]
				if dt == tensor.Bytes {
					if diff := cmp.Diff(x.Strings, got.Strings); diff != "" {
						t.Errorf("binary %v: strings differ after a round trip (-sent +decoded):\n%s", binaryBody, diff)
					}
				} else if !slices.Equal(x.Data, got.Data) {
					t.Errorf("binary %v: data differs after a round trip", binaryBody)
				}
			}
		})
	}
}

func TestBuildInputsSeeded(t *testing.T) {
	specs := []InputSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 8}}}
	a, _ := BuildInputs(specs, 1, nil, rand.New(rand.NewPCG(7, 7)))
	b, _ := BuildInputs(specs, 1, nil, rand.New(rand.NewPCG(7, 7)))
	c, _ := BuildInputs(specs, 1, nil, rand.New(rand.NewPCG(8, 8)))
	if !slices.Equal(a[0].Data, b[0].Data) || slices.Equal(a[0].Data, c[0].Data) {
		t.Error("inputs do not follow the seed")
	}
}

func TestResolveShapes(t *testing.T) {
	cls := []InputSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 3, -1, -1}}}
	fixed := []InputSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{2, 3}}}
	two := []InputSpec{
		{Name: "ids", DataType: tensor.Int64, Shape: []int64{-1, -1}},
		{Name: "input:0", DataType: tensor.FP32, Shape: []int64{-1, 4}},
	}
	tests := []struct {
		name    string
		specs   []InputSpec
		batch   int
		shape   []string // --shape values
		want    [][]int64
		wantErr string
	}{
		{"variable dims given", cls, 4, []string{"x:3,48,192"}, [][]int64{{4, 3, 48, 192}}, ""},
		{"variable dims missing", cls, 1, nil, nil, "input \"x\" has variable dimensions (declared [-1,3,-1,-1]): fix them with --shape x:3,D2,D3"},
		{"contradicts a fixed dim", cls, 1, []string{"x:4,48,192"}, nil, "--shape x: dimension 1 of input \"x\" is fixed at 3 by the model (declared [-1,3,-1,-1]), got 4"},
		{"batch axis included by mistake", cls, 1, []string{"x:1,3,48,192"}, nil, "--shape x: input \"x\" has 3 dimensions after the batch axis (declared [-1,3,-1,-1]), got 4"},
		{"unknown input", cls, 1, []string{"x:3,48,192", "y:1"}, nil, "--shape y: the model has no input \"y\" (inputs: x)"},
		{"no batch axis", fixed, 1, nil, [][]int64{{2, 3}}, ""},
		{"no batch axis, shape repeats it", fixed, 1, []string{"x:2,3"}, [][]int64{{2, 3}}, ""},
		{"no batch axis, batch 2", fixed, 2, nil, nil, "batch size 2: the model has no batch axis"},
		{"no batch axis, wrong rank", fixed, 1, []string{"x:3"}, nil, "--shape x: input \"x\" has 2 dimensions (declared [2,3]), got 1"},
		{"two inputs, name with a colon", two, 2, []string{"ids:16"}, [][]int64{{2, 16}, {2, 4}}, ""},
		{"two inputs, one missing", two, 2, []string{"input:0:4"}, nil, "fix them with --shape ids:D1"},
		{"batch 0", cls, 0, []string{"x:3,48,192"}, nil, "batch size 0: must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shapes := Shapes{}
			for _, s := range tt.shape {
				if err := shapes.Set(s); err != nil {
					t.Fatalf("Set(%q): %v", s, err)
				}
			}
			got, err := ResolveShapes(tt.specs, tt.batch, shapes)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveShapes(batch %d, %v) error = %v, want it to contain %q", tt.batch, tt.shape, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveShapes(batch %d, %v): %v", tt.batch, tt.shape, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResolveShapes(batch %d, %v) (-want +got):\n%s", tt.batch, tt.shape, diff)
			}
		})
	}
}

func TestShapesSet(t *testing.T) {
	tests := []struct {
		in      string
		want    Shapes
		wantErr string
	}{
		{"x:3,48,192", Shapes{"x": {3, 48, 192}}, ""},
		{"input:0:1, 2", Shapes{"input:0": {1, 2}}, ""},
		{"scalar:", Shapes{"scalar": nil}, ""},
		{"x", nil, "want name:d1,d2,..."},
		{":3", nil, "want name:d1,d2,..."},
		{"x:3,-1", nil, "dimension \"-1\" is not a positive integer"},
		{"x:3,a", nil, "dimension \"a\" is not a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := Shapes{}
			err := s.Set(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Errorf("Set(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	s := Shapes{}
	s.Set("x:1")
	if err := s.Set("x:2"); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("second --shape for x: error = %v, want \"given twice\"", err)
	}
	if got := (Shapes{"b": {1, 2}, "a": {3}}).String(); got != "a:3 b:1,2" {
		t.Errorf("String() = %q, want %q", got, "a:3 b:1,2")
	}
}

func TestSpecsFromMetadata(t *testing.T) {
	md := &api.ModelMetadata{Inputs: []api.TensorMetadata{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3, 48, 192}}}}
	specs, err := SpecsFromMetadata(md)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]InputSpec{{Name: "x", DataType: tensor.FP32, Shape: []int64{-1, 3, 48, 192}}}, specs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := ConcreteShapes(specs); !slices.Equal(got["x"], []int64{3, 48, 192}) {
		t.Errorf("ConcreteShapes = %v, want x:3,48,192", got)
	}
	md.Inputs[0].Datatype = "FLOAT"
	if _, err := SpecsFromMetadata(md); err == nil || !strings.Contains(err.Error(), `input "x": unknown datatype "FLOAT"`) {
		t.Errorf("unknown datatype: error = %v", err)
	}
}
