package simulate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

// checkMinerModel reads a --miner-models file and checks that it has the reference's inputs and
// outputs, so that it answers the validators' requests with outputs they can score.
func checkMinerModel(path string, ref models.IO) error {
	got, err := onnx.ReadIO(path, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return err
	}
	mismatch := append(specsMismatch("input", ref.Inputs, got.Inputs), specsMismatch("output", ref.Outputs, got.Outputs)...)
	if len(mismatch) > 0 {
		return fmt.Errorf("%s: inputs and outputs differ from the reference's: %s", path, strings.Join(mismatch, "; "))
	}
	return nil
}

// specsMismatch lists how a miner model's inputs or outputs (what) differ from the reference's:
// missing or extra names, other datatypes, and shapes that do not fit. A dimension fixed in the
// miner's model must equal the reference's, which must then be fixed too; a variable one fits any.
func specsMismatch(what string, ref, got []models.TensorSpec) []string {
	var out []string
	for _, r := range ref {
		i := slices.IndexFunc(got, func(g models.TensorSpec) bool { return g.Name == r.Name })
		if i < 0 {
			out = append(out, fmt.Sprintf("%s %q missing", what, r.Name))
			continue
		}
		g := got[i]
		if g.DataType != r.DataType {
			out = append(out, fmt.Sprintf("%s %q: datatype %s, reference %s", what, r.Name, g.DataType, r.DataType))
		}
		fits := len(g.Shape) == len(r.Shape)
		for k := 0; fits && k < len(g.Shape); k++ {
			fits = g.Shape[k] < 0 || g.Shape[k] == r.Shape[k]
		}
		if !fits {
			out = append(out, fmt.Sprintf("%s %q: shape %s, reference %s", what, r.Name,
				tensor.FormatShape(g.Shape), tensor.FormatShape(r.Shape)))
		}
	}
	for _, g := range got {
		if !slices.ContainsFunc(ref, func(r models.TensorSpec) bool { return r.Name == g.Name }) {
			out = append(out, fmt.Sprintf("%s %q not in the reference", what, g.Name))
		}
	}
	return out
}
