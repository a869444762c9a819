package main

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/validate"

	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
)

// TestValidate runs `miner validate` with real ONNX Runtime and real HTTP
// against two miner nodes: one serving row_sum, one serving fixed_affine
// under the name row_sum (same input, wrong outputs). The reference is
// row_sum.onnx. The good axon ranks first with score 1; the degraded one
// answers 200 but scores low (output s missing, y wrong); a signature for
// the wrong axon hotkey is refused (401) and an unreachable axon fails
// (503): both score 0 with their errors counted, and rank last.
func TestValidate(t *testing.T) {
	_, good, wallets := startAxonNode(t, nil)
	degradedRepo := t.TempDir()
	copyFile(t, modeltest.Path(t, "fixed_affine.onnx"), filepath.Join(degradedRepo, "row_sum.onnx"))
	_, degraded, _ := startAxonNode(t, func(c *config.Serve) { c.ModelsDir = degradedRepo })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := ln.Addr().String()
	ln.Close()
	bob, charlie := axonDevKey(t, "//Bob").SS58(), axonDevKey(t, "//Charlie").SS58()

	args := []string{"--wallet-path", wallets, "--wallet", "validator", "--hotkey", "default",
		"--model", "row_sum", "--reference-model", modeltest.Path(t, "row_sum.onnx"), "--batch", "2", "--dim", "3",
		"--rounds", "2", "--every", "10ms", "--timeout", "5", "--seed", "7",
		"--axon", unreachable + "=" + bob, "--axon", degraded + "=" + bob, "--axon", good + "=" + charlie, "--axon", good + "=" + bob}
	var out, errOut bytes.Buffer
	if code := run(append([]string{"validate", "--json"}, args...), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep validate.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Model != "row_sum" || rep.Rounds != 2 || len(rep.Ranking) != 4 {
		t.Fatalf("report %s", out.String())
	}
	type want struct {
		addr, hotkey string
		score        float64
		success      float64
		errors       int
		err          string
	}
	wants := []want{
		{good, bob, 1, 1, 0, ""},
		{degraded, bob, 0, 1, 2, `output "s" missing`},
		{good, charlie, 0, 0, 2, "401 Not Verified"},
		{unreachable, bob, 0, 0, 2, "503 Service unavailable"},
	}
	if rep.Ranking[2].Addr == unreachable { // equal scores: ordered by address
		rep.Ranking[2], rep.Ranking[3] = rep.Ranking[3], rep.Ranking[2]
		rep.Ranking[2].Rank, rep.Ranking[3].Rank = 3, 4
	}
	for i, w := range wants {
		r := rep.Ranking[i]
		if r.Rank != i+1 || r.Addr != w.addr || r.Hotkey != w.hotkey || r.UID != nil || r.Calls != 2 || r.Errors != w.errors ||
			r.SuccessRate != w.success || !strings.Contains(r.LastError, w.err) || (w.err == "") != (r.LastError == "") {
			t.Errorf("rank %d = %+v, want %+v", i+1, r, w)
		}
		if i == 0 && (r.Score < 1-1e-6 || r.P50MS == nil || *r.P50MS <= 0) {
			t.Errorf("good axon: score %v, p50 %v", r.Score, r.P50MS)
		}
		if i == 1 && !(r.Score > 0 && r.Score < 0.5) {
			t.Errorf("degraded axon: score %v, want in (0, 0.5)", r.Score)
		}
		if i > 1 && r.Score != w.score {
			t.Errorf("rank %d: score %v, want %v", i+1, r.Score, w.score)
		}
		if (w.success == 1) != (r.P50MS != nil) {
			t.Errorf("rank %d: p50 %v with success rate %v", i+1, r.P50MS, r.SuccessRate)
		}
	}

	// The text table, one round.
	out.Reset()
	errOut.Reset()
	text := append([]string{"validate", "--rounds", "1"}, args[:len(args)-8]...)
	text = append(text, "--axon", unreachable+"="+bob, "--axon", good+"="+bob)
	if code := run(text, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "rank") || !strings.Contains(lines[1], "p50 ms") ||
		!strings.HasPrefix(strings.TrimSpace(lines[2]), "1      -  "+bob) || !strings.Contains(lines[2], good) ||
		!strings.Contains(lines[2], "1.0000") || !strings.Contains(lines[3], "503 ") {
		t.Errorf("text ranking:\n%s", out.String())
	}
}

// TestValidateCommandLine: bad command lines exit 2 before any work.
func TestValidateCommandLine(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--model", "m", "--reference-model", "r.onnx"},
		{"--model", "m", "--reference-model", "r.onnx", "--axon", "1.2.3.4:5"},
		{"--model", "m", "--reference-model", "r.onnx", "--axon", "1.2.3.4:5=notss58"},
		{"--model", "m", "--reference-model", "r.onnx", "--netuid", "1", "--axon", "1.2.3.4:5=5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"},
		{"--model", "m", "--reference-model", "r.onnx", "--netuid", "1", "--rounds", "0"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"validate"}, args...), &out, &errOut); code != 2 {
			t.Errorf("validate %v = %d %s, want 2", args, code, errOut.String())
		}
	}
}
