package kernels

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// numpyTolerance bounds |Go − numpy| for Normalize on the reference data
// (testdata/gen_reference.py: numpy float32 arithmetic, same operation order).
const numpyTolerance = 1e-5

func TestNormalizeMatchesNumpy(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Pillow     string `json:"pillow"`
		Numpy      string `json:"numpy"`
		Normalized []struct {
			Name     string    `json:"name"`
			InputRGB string    `json:"input_rgb"`
			InputHWC []int     `json:"input_hwc"`
			Scale    float64   `json:"scale"`
			Mean     []float32 `json:"mean"`
			Std      []float32 `json:"std"`
			Shape    []int     `json:"shape"`
			F32      string    `json:"f32"`
		} `json:"normalized"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Normalized) == 0 {
		t.Fatal("no normalised references")
	}
	t.Logf("reference from numpy %s, Pillow %s", idx.Numpy, idx.Pillow)
	for _, n := range idx.Normalized {
		t.Run(n.Name, func(t *testing.T) {
			pix, err := os.ReadFile(filepath.Join("testdata", n.InputRGB))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join("testdata", n.F32))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(b)/4)
			for i := range want {
				want[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
			}
			p := NormParams{Scale: float32(n.Scale), Mean: n.Mean, Std: n.Std}
			got, shape, err := Normalize(pix, append([]int{1}, n.InputHWC...), p)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(shape) != fmt.Sprint(n.Shape) {
				t.Fatalf("shape %v, want %v", shape, n.Shape)
			}
			bad, maxDiff := closeTo(got, want, numpyTolerance, 0)
			t.Logf("%s: max |Go - numpy| = %g, bit-identical: %v", n.Name, maxDiff, firstBitDiff(got, want) < 0)
			if bad >= 0 {
				t.Fatalf("[%d] got %v, want %v", bad, got[bad], want[bad])
			}
		})
	}
}
