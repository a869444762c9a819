package validate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/scale"
)

// TestValidateScore: the score of answers against a reference output.
func TestValidateScore(t *testing.T) {
	ref := []refOutput{{name: "y", shape: []int64{1, 2}, values: []float64{3, 4}}, {name: "z", shape: []int64{1}, values: []float64{0}}}
	tests := []struct {
		name    string
		outputs string
		score   float64
		err     string
	}{
		{"exact", `[{"name":"y","shape":[1,2],"data":[3,4]},{"name":"z","shape":[1],"data":[0]}]`, 1, ""},
		{"10% off", `[{"name":"y","shape":[1,2],"data":[3,4.5]},{"name":"z","shape":[1],"data":[0]}]`, (0.9 + 1) / 2, ""},
		{"zero reference, absolute error", `[{"name":"y","shape":[1,2],"data":[3,4]},{"name":"z","shape":[1],"data":[0.25]}]`, (1 + 0.75) / 2, ""},
		{"missing output", `[{"name":"y","shape":[1,2],"data":[3,4]}]`, 0.5, `output "z" missing`},
		{"other shape", `[{"name":"y","shape":[2,1],"data":[3,4]},{"name":"z","shape":[1],"data":[0]}]`, 0.5, "shape [2 1]"},
		{"NaN", `[{"name":"y","shape":[1,2],"data":["NaN",4]},{"name":"z","shape":[1],"data":[0]}]`, 0.5, ""},
		{"far off", `[{"name":"y","shape":[1,2],"data":[-30,40]},{"name":"z","shape":[1],"data":[0]}]`, 0.5, ""},
		{"not a list", `{"y":1}`, 0, "outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scoreOutputs(json.RawMessage(tt.outputs), ref)
			if d := got - tt.score; d > 1e-9 || d < -1e-9 {
				t.Errorf("score %v, want %v", got, tt.score)
			}
			if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}

// TestValidateTargets: --netuid queries the neurons whose axon has a
// non-zero IP and port, with their UIDs.
func TestValidateTargets(t *testing.T) {
	s := &metagraph.Snapshot{Neurons: []metagraph.Neuron{
		{UID: 0, Hotkey: "a", Axon: neuron.AxonInfo{IP: scale.Uint128{Lo: 0xC0000209}, Port: 8091, IPType: 4}},
		{UID: 1, Hotkey: "b"},
		{UID: 2, Hotkey: "c", Axon: neuron.AxonInfo{IP: scale.Uint128{}, Port: 8091, IPType: 4}},
		{UID: 3, Hotkey: "d", Axon: neuron.AxonInfo{IP: scale.Uint128{Lo: 0xC000020A}, Port: 9000, IPType: 4}},
	}}
	got := servingAxons(s)
	if len(got) != 2 || *got[0].UID != 0 || got[0].Addr != "192.0.2.9:8091" || got[0].Hotkey != "a" ||
		*got[1].UID != 3 || got[1].Addr != "192.0.2.10:9000" {
		t.Errorf("targets %+v", got)
	}
}
