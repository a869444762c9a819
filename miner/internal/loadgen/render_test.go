package loadgen

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func ratio(r float64) *float64 { return &r }

// sampleReport is a fixed report with a raw part, an unstable row and a
// row with failures.
func sampleReport() *Report {
	return &Report{
		URL: "http://127.0.0.1:8000", Model: "ppocr_cls", Batch: 1, Window: "2s", Stability: 0.1, MaxTrials: 10,
		Raw: &RawReport{
			ModelFile: "model.onnx", IntraOpThreads: 1, Limit: 931.5, LimitBatch: 16,
			Rows: []RawRow{
				{Batch: 1, ItemsPerSec: 668.25, RunsPerSec: 668.25, Latency: Latency{Avg: 1.5, P50: 1.49, P90: 1.52, P95: 1.6, P99: 2.01}, Stable: true, Windows: 3},
				{Batch: 16, ItemsPerSec: 931.5, RunsPerSec: 58.22, Latency: Latency{Avg: 17.2, P50: 17.1, P90: 17.9, P95: 18.3, P99: 19.44}, Stable: true, Windows: 4},
			},
		},
		Rows: []Row{
			{Concurrency: 1, Protocol: "binary", InferPerSec: 590.2, ReqPerSec: 590.2, Requests: 3541, Latency: Latency{P50: 1.66, P90: 1.8, P95: 1.9, P99: 2.5}, AvgBatch: 1, Ratio: ratio(590.2 / 931.5), Stable: true, Windows: 3},
			{Concurrency: 16, Protocol: "binary", InferPerSec: 880.04, ReqPerSec: 880.04, Requests: 5280, Latency: Latency{P50: 18.1, P90: 20.2, P95: 21, P99: 30.75}, AvgBatch: 12.5, Ratio: ratio(880.04 / 931.5), Stable: false, Windows: 10},
			{Concurrency: 16, Protocol: "json", InferPerSec: 410, ReqPerSec: 410, Requests: 2460, Latency: Latency{P50: 38, P90: 41, P95: 42, P99: 50}, Errors: 3,
				ErrorsByStatus: map[string]int{"429": 2, "transport": 1}, FirstError: "429: queue full", Ratio: ratio(410 / 931.5), Stable: true, Windows: 5},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestWriteTable(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		edit   func(*Report)
	}{
		{"raw and served", "table_full.golden", func(*Report) {}},
		{"served only", "table_served.golden", func(r *Report) {
			r.Raw = nil
			r.Version = "2"
			r.Rows = r.Rows[:1]
			r.Rows[0].Ratio = nil
			r.Rows[0].AvgBatch = 0
		}},
		{"raw only", "table_raw.golden", func(r *Report) { r.Rows = nil; r.URL = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			tt.edit(r)
			var b strings.Builder
			if err := WriteTable(&b, r); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, b.String())
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.json", b.String())
	var back Report
	if err := json.Unmarshal([]byte(b.String()), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleReport(), &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}
