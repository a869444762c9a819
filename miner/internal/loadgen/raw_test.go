package loadgen

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/models/modeltest"
)

// TestRunRaw runs real models in process with the real ONNX Runtime.
func TestRunRaw(t *testing.T) {
	modeltest.InitRuntime(t)
	m := Measure{Window: 20 * time.Millisecond, Stability: 100, MaxTrials: 3}
	tests := []struct {
		name        string
		model       string
		batches     []int
		shapes      Shapes
		hint        Shapes
		wantBatches []int
		wantErr     string
	}{
		{"every datatype", "identity_all.onnx", []int{1, 4}, nil, nil, []int{1, 4}, ""},
		{"variable dim from --shape", "row_sum.onnx", []int{2}, Shapes{"x": {5}}, Shapes{"x": {7}}, []int{2}, ""},
		{"variable dim from the served metadata", "row_sum.onnx", []int{1, 2}, nil, Shapes{"x": {7}}, []int{1, 2}, ""},
		{"hint of the wrong rank is ignored", "row_sum.onnx", []int{1}, nil, Shapes{"x": {7, 1}}, nil, `input "x" has variable dimensions (declared [-1,-1]): fix them with --shape x:D1`},
		{"no batch axis runs batch 1", "fixed_affine.onnx", []int{1, 2, 4}, nil, nil, []int{1}, ""},
		{"unknown --shape input", "fixed_affine.onnx", []int{1}, Shapes{"y": {1}}, nil, nil, `--shape y: the model has no input "y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := RawOptions{ModelFile: modeltest.Path(t, tt.model), IntraOpThreads: 1, Batches: tt.batches}
			rep, err := runRaw(context.Background(), o, tt.shapes, tt.hint, 1, m, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("runRaw error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			best := 0.0
			for _, row := range rep.Rows {
				got = append(got, row.Batch)
				if row.ItemsPerSec <= 0 || math.Abs(row.RunsPerSec*float64(row.Batch)-row.ItemsPerSec) > 1e-6*row.ItemsPerSec || row.Latency.P50 <= 0 || row.Windows != 3 {
					t.Errorf("batch %d: %+v; want items/s = batch × runs/s > 0, latency, 3 windows", row.Batch, row)
				}
				best = max(best, row.ItemsPerSec)
			}
			if !slices.Equal(got, tt.wantBatches) {
				t.Errorf("batches %v, want %v", got, tt.wantBatches)
			}
			if rep.Limit != best || !slices.Contains(got, rep.LimitBatch) {
				t.Errorf("limit %.1f at batch %d, want the best row (%.1f)", rep.Limit, rep.LimitBatch, best)
			}
		})
	}
}

func TestRunRawCancel(t *testing.T) {
	modeltest.InitRuntime(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	o := RawOptions{ModelFile: modeltest.Path(t, "identity_all.onnx"), IntraOpThreads: 1, Batches: []int{1}}
	_, err := runRaw(ctx, o, nil, nil, 1, Measure{Window: 10 * time.Second, Stability: 0.1, MaxTrials: 10}, nil)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("runRaw error = %v, want the context's", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("runRaw took %v after cancellation", took)
	}
}
