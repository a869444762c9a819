package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/simulate"

	"github.com/taominer/taominer/models/modeltest"
)

// runSimulate runs `miner simulate` on row_sum (real ONNX Runtime, real axons, real signatures)
// and returns the JSON report and the table.
func runSimulate(t *testing.T, args ...string) (simulate.Report, string) {
	t.Helper()
	modeltest.InitRuntime(t)
	dir := t.TempDir()
	jsonPath, csvPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.csv")
	args = append([]string{"simulate", "--model", modeltest.Path(t, "row_sum.onnx"), "--seed", "7",
		"--json", jsonPath, "--csv", csvPath}, args...)
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	t.Logf("miner %s\n%s", strings.Join(args, " "), out.String())
	var rep simulate.Report
	if err := json.Unmarshal(must(os.ReadFile(jsonPath)), &rep); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	// The CSV holds the same miner rows.
	recs, err := csv.NewReader(bytes.NewReader(must(os.ReadFile(csvPath)))).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	var rows int
	for _, e := range rep.Epochs {
		rows += len(e.Miners)
	}
	if len(recs) != rows+1 || recs[0][0] != "epoch" || recs[0][9] != "incentive" || recs[0][11] != "model" {
		t.Fatalf("CSV has %d records for %d rows: %v", len(recs), rows, recs)
	}
	last := rep.Epochs[len(rep.Epochs)-1].Miners
	for k, m := range last {
		rec := recs[len(recs)-len(last)+k]
		inc, _ := strconv.ParseFloat(rec[9], 64)
		if rec[4] != m.Kind || rec[11] != m.Model || m.Model == "" || inc-m.Incentive > 1e-6 || m.Incentive-inc > 1e-6 {
			t.Errorf("CSV row %v, JSON %+v", rec, m)
		}
	}
	return rep, out.String()
}

func byKind(t *testing.T, e simulate.Epoch) map[string]simulate.MinerRow {
	t.Helper()
	out := map[string]simulate.MinerRow{}
	for _, m := range e.Miners {
		out[m.Kind] = m
	}
	return out
}

// TestSimulateRanksHonestFirst: 3 miners (honest, noisy, wrong) and 2 validators over 2 epochs;
// the scores the validators measure over the axon order the miners, and the Yuma epoch gives the
// honest miner the most incentive and emission.
func TestSimulateRanksHonestFirst(t *testing.T) {
	rep, table := runSimulate(t, "--miners", "3", "--validators", "2", "--epochs", "2", "--kinds", "honest,noisy,wrong")
	if len(rep.Epochs) != 2 || len(rep.Epochs[0].Miners) != 3 || len(rep.Epochs[0].Validators) != 2 {
		t.Fatalf("report shape: %+v", rep)
	}
	for _, e := range rep.Epochs {
		k := byKind(t, e)
		h, n, w := k[simulate.KindHonest], k[simulate.KindNoisy], k[simulate.KindWrong]
		if h.Score < 0.999 || n.Score < 0.5 || n.Score > 0.99 || w.Score > 0.2 {
			t.Errorf("epoch %d scores: honest %.4f noisy %.4f wrong %.4f", e.Epoch, h.Score, n.Score, w.Score)
		}
		if !(h.Incentive > n.Incentive && n.Incentive > w.Incentive) || h.EmissionRao <= n.EmissionRao {
			t.Errorf("epoch %d incentive: honest %.4f noisy %.4f wrong %.4f", e.Epoch, h.Incentive, n.Incentive, w.Incentive)
		}
		var sum float64
		for _, m := range e.Miners {
			sum += m.Incentive
		}
		if sum < 0.999 || sum > 1.0001 {
			t.Errorf("epoch %d: incentives sum to %.5f", e.Epoch, sum)
		}
	}
	for _, w := range []string{"epoch 1/2", "epoch 2/2", "honest", "noisy", "wrong", "consensus", "incentive", "60.0%"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q", w)
		}
	}
}

// TestSimulateCollusion: validators holding 40% of the stake put all their weight on the miner
// answering garbage. It receives a large stake-weighted weight, but consensus (the κ = 50%
// stake-weighted median) is what the honest majority gives it, so clipping leaves it with the
// incentive its honest score earns (near 0), far below the honest miner's.
func TestSimulateCollusion(t *testing.T) {
	rep, table := runSimulate(t, "--miners", "3", "--validators", "3", "--epochs", "2", "--kinds", "honest,noisy,wrong",
		"--collusion")
	for _, e := range rep.Epochs {
		k := byKind(t, e)
		h, w := k[simulate.KindHonest], k[simulate.KindWrong]
		if !w.Colluded || h.Colluded {
			t.Fatalf("colluded miner: %+v", e.Miners)
		}
		if w.Weight < 0.39 {
			t.Errorf("epoch %d: colluded miner receives weight %.4f, want ≥ 0.39 (the cartel's 40%%)", e.Epoch, w.Weight)
		}
		// Its honest-validator score is near 0: the majority's weight on it is its score / the
		// honest miner's score of that row.
		if w.Incentive > w.Score+0.02 || w.Incentive >= h.Incentive || w.Consensus > 0.05 {
			t.Errorf("epoch %d: colluded miner incentive %.4f consensus %.4f (score %.4f), honest incentive %.4f",
				e.Epoch, w.Incentive, w.Consensus, w.Score, h.Incentive)
		}
		if h.Incentive < 0.5 {
			t.Errorf("epoch %d: honest incentive %.4f", e.Epoch, h.Incentive)
		}
		for _, v := range e.Validators {
			if v.Colluding != (v.Validator != 0) {
				t.Errorf("validator %+v", v)
			}
		}
	}
	if !strings.Contains(table, "wrong*") || !strings.Contains(table, "colluding") {
		t.Errorf("table does not mark the collusion:\n%s", table)
	}
}

func TestSimulateCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"simulate", "--help"}, 0, "Usage: miner simulate"},
		{[]string{"simulate", "--help"}, 0, "--miner-models LIST"},
		{[]string{"simulate", "--miners", "0"}, 2, "must be positive"},
		{[]string{"simulate", "--kinds", "honest,lazy"}, 2, `unknown kind "lazy"`},
		{[]string{"simulate", "--collusion", "--validators", "1"}, 2, "at least 2 validators"},
		{[]string{"simulate", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"simulate", "--model", filepath.Join(t.TempDir(), "none.onnx")}, 1, "--model"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(tt.args, &out, &errOut); code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
}

// TestSimulateSlowMiner: a miner answering after the synapse timeout scores 0 (408) and earns
// nothing; the degrading proxy stops with the run.
func TestSimulateSlowMiner(t *testing.T) {
	rep, _ := runSimulate(t, "--miners", "2", "--validators", "1", "--epochs", "1", "--kinds", "honest,slow",
		"--latency", "600ms", "--timeout", "0.3")
	k := byKind(t, rep.Epochs[0])
	if k[simulate.KindSlow].Score != 0 || k[simulate.KindSlow].Incentive != 0 || k[simulate.KindHonest].Incentive < 0.999 {
		t.Errorf("slow %+v honest %+v", k[simulate.KindSlow], k[simulate.KindHonest])
	}
}

// TestSimulateMinerModels: two honest miners, one serving the reference (row_sum) and one its
// variant row_sum_2x (y = 2x instead of 3x, same inputs and outputs), and a wrong miner serving
// the reference. The validators score the variant's answers 1 − (1/3)/2 = 0.8333 (s exact, y off by
// a third), so it gets less incentive and emission than the reference's miner; the wrong kind still
// applies on top of its model.
func TestSimulateMinerModels(t *testing.T) {
	ref, variant := modeltest.Path(t, "row_sum.onnx"), modeltest.Path(t, "row_sum_2x.onnx")
	rep, table := runSimulate(t, "--miners", "3", "--validators", "2", "--epochs", "2", "--kinds", "honest,honest,wrong",
		"--miner-models", ref+","+variant+","+ref)
	for _, e := range rep.Epochs {
		if len(e.Miners) != 3 {
			t.Fatalf("epoch %d: %d miners", e.Epoch, len(e.Miners))
		}
		r, v, w := e.Miners[0], e.Miners[1], e.Miners[2]
		for _, c := range []struct {
			row         simulate.MinerRow
			kind, model string
		}{{r, simulate.KindHonest, "row_sum.onnx"}, {v, simulate.KindHonest, "row_sum_2x.onnx"}, {w, simulate.KindWrong, "row_sum.onnx"}} {
			if c.row.Kind != c.kind || c.row.Model != c.model {
				t.Errorf("epoch %d miner %d: kind %q model %q, want %q %q", e.Epoch, c.row.Miner, c.row.Kind, c.row.Model,
					c.kind, c.model)
			}
		}
		if r.Score < 0.999 || math.Abs(v.Score-5.0/6) > 0.001 || w.Score > 0.2 {
			t.Errorf("epoch %d scores: reference %.4f variant %.4f (want 0.8333) wrong %.4f", e.Epoch, r.Score, v.Score, w.Score)
		}
		if !(r.Incentive > v.Incentive && v.Incentive > w.Incentive) || r.EmissionRao <= v.EmissionRao {
			t.Errorf("epoch %d incentive: reference %.4f variant %.4f wrong %.4f; emission reference %d variant %d",
				e.Epoch, r.Incentive, v.Incentive, w.Incentive, r.EmissionRao, v.EmissionRao)
		}
	}
	for _, want := range []string{"model", "row_sum.onnx", "row_sum_2x.onnx"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestSimulateMinerModelMismatch: a --miner-models file without the reference's inputs and
// outputs stops the run before any miner starts, with an error naming the file and what differs.
func TestSimulateMinerModelMismatch(t *testing.T) {
	modeltest.InitRuntime(t)
	ref := modeltest.Path(t, "row_sum.onnx")
	tests := []struct {
		name   string
		models string
		code   int
		want   []string
	}{
		{"fixed shape and missing output", ref + "," + modeltest.Path(t, "fixed_affine.onnx"), 1, []string{
			"--miner-models: " + modeltest.Path(t, "fixed_affine.onnx") + ": inputs and outputs differ",
			`input "x": shape [2,3], reference [-1,-1]`, `output "s" missing`, `output "y": shape [2,3], reference [-1,-1]`}},
		{"other names", modeltest.Path(t, "identity_all.onnx"), 1, []string{
			modeltest.Path(t, "identity_all.onnx"), `input "x" missing`, `input "in_fp32" not in the reference`}},
		{"no such file", filepath.Join(t.TempDir(), "none.onnx"), 1, []string{"--miner-models: ", "none.onnx"}},
		{"empty entry", ref + ",", 2, []string{"--miner-models: empty file name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"simulate", "--model", ref, "--miners", "2", "--validators", "1", "--epochs", "1",
				"--miner-models", tt.models}
			var out, errOut bytes.Buffer
			code := run(args, &out, &errOut)
			if code != tt.code || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q; want %d and no table", code, out.String(), tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr %q lacks %q", errOut.String(), w)
				}
			}
		})
	}
}
