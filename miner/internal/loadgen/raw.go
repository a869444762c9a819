package loadgen

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/taominer/taominer/models/onnx"
)

// RawOptions configure the in-process ONNX Runtime measurement: the model
// file run in a tight loop with the session options the miner uses, one
// execution at a time (the miner's default of one instance).
type RawOptions struct {
	// ModelFile is the .onnx file.
	ModelFile string
	// Library is the ONNX Runtime library; empty searches as the miner does.
	Library string
	// IntraOpThreads is the session's intra-op thread count (the miner's
	// --intra-op-threads, default 1).
	IntraOpThreads int
	// Batches are the batch sizes to run; a model without a batch axis
	// runs batch 1 only.
	Batches []int
}

// RawRow is the raw measurement at one batch size.
type RawRow struct {
	Batch       int     `json:"batch"`
	ItemsPerSec float64 `json:"items_per_sec"`
	RunsPerSec  float64 `json:"runs_per_sec"`
	Latency     Latency `json:"latency"`
	Stable      bool    `json:"stable"`
	Windows     int     `json:"windows"`
}

// RawReport is the raw in-process limit of a model file.
type RawReport struct {
	ModelFile      string   `json:"model_file"`
	IntraOpThreads int      `json:"intra_op_threads"`
	Rows           []RawRow `json:"rows"`
	// Limit is the largest items/s over the batch sizes, at LimitBatch:
	// what 100% means for a server of this model on this CPU.
	Limit      float64 `json:"limit_items_per_sec"`
	LimitBatch int     `json:"limit_batch"`
}

// runRaw measures the model file in process at each batch size. Variable
// dimensions come from shapes, then from hint (the served model's concrete
// shapes) for the inputs shapes does not name.
func runRaw(ctx context.Context, o RawOptions, shapes, hint Shapes, seed uint64, m Measure, p *Progress) (*RawReport, error) {
	lib, err := onnx.FindLibrary(o.Library)
	if err != nil {
		return nil, err
	}
	if err := onnx.Init(lib); err != nil {
		return nil, err
	}
	opts := onnx.Options{IntraOpThreads: max(o.IntraOpThreads, 1)}
	io, err := onnx.ReadIO(o.ModelFile, opts)
	if err != nil {
		return nil, err
	}
	sess, err := onnx.Open(o.ModelFile, io, opts)
	if err != nil {
		return nil, err
	}
	defer sess.Close()

	specs := specsFromIO(io)
	merged := Shapes{}
	maps.Copy(merged, shapes)
	for _, s := range specs {
		if _, given := merged[s.Name]; given {
			continue
		}
		if dims, ok := hint[s.Name]; ok && len(dims) == len(s.Shape)-btoi(hasBatchAxis(s.Shape)) {
			merged[s.Name] = dims
		}
	}
	batches := slices.Clone(o.Batches)
	if ItemsPerRequest(specs, 2) == 1 {
		batches = []int{1}
	}
	rep := &RawReport{ModelFile: o.ModelFile, IntraOpThreads: opts.IntraOpThreads}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, b := range batches {
		in, err := BuildInputs(specs, b, merged, rng)
		if err != nil {
			return rep, fmt.Errorf("raw model %s: %w", o.ModelFile, err)
		}
		// One untimed run: the first execution allocates and plans.
		if _, err := sess.Run(ctx, in); err != nil {
			return rep, fmt.Errorf("raw run at batch %d: %w", b, err)
		}
		var ws []window
		for len(ws) < m.MaxTrials {
			w := window{errors: map[string]int{}}
			start := time.Now()
			for end, now := start.Add(m.Window), start; now.Before(end); {
				if _, err := sess.Run(ctx, in); err != nil {
					return rep, fmt.Errorf("raw run at batch %d: %w", b, err)
				}
				t := time.Now()
				w.lat = append(w.lat, t.Sub(now))
				w.requests++
				w.items += b
				now = t
			}
			w.dur = time.Since(start)
			ws = append(ws, w)
			p.Update("raw batch=%d  window %d/%d  %.1f items/s  p99 %.2f ms", b, len(ws), m.MaxTrials, w.itemsPerSec(), ms(percentileOf(slices.Sorted(slices.Values(w.lat)), 99)))
			if stable(ws, m.Stability, m.Percentile) {
				break
			}
		}
		row := rawRow(b, ws, m)
		rep.Rows = append(rep.Rows, row)
		if row.ItemsPerSec > rep.Limit {
			rep.Limit, rep.LimitBatch = row.ItemsPerSec, b
		}
	}
	return rep, nil
}

// rawRow merges the last windows of one batch size.
func rawRow(batch int, ws []window, m Measure) RawRow {
	last := merge(ws[max(0, len(ws)-StabilityWindows):])
	row := RawRow{Batch: batch, Latency: summarize(last.lat), Stable: stable(ws, m.Stability, m.Percentile), Windows: len(ws)}
	if last.dur > 0 {
		row.ItemsPerSec = float64(last.items) / last.dur.Seconds()
		row.RunsPerSec = float64(last.requests) / last.dur.Seconds()
	}
	return row
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
