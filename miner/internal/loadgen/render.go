package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report as aligned text tables: the raw limit per
// batch size, then one served row per protocol and concurrency. Figures
// that did not stabilise are marked with a *.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	unstable := false
	mark := func(stable bool) string {
		if stable {
			return ""
		}
		unstable = true
		return "*"
	}
	if raw := r.Raw; raw != nil {
		fmt.Fprintf(&b, "raw ONNX Runtime, in process: %s (intra-op threads %d)\n", raw.ModelFile, raw.IntraOpThreads)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "batch\titems/s\truns/s\tp50 ms\tp90 ms\tp95 ms\tp99 ms\t")
		for _, row := range raw.Rows {
			l := row.Latency
			fmt.Fprintf(tw, "%d\t%.1f%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", row.Batch, row.ItemsPerSec, mark(row.Stable), row.RunsPerSec, l.P50, l.P90, l.P95, l.P99)
		}
		tw.Flush()
		if raw.LimitBatch > 0 {
			fmt.Fprintf(&b, "limit: %.1f items/s (batch %d)\n", raw.Limit, raw.LimitBatch)
		}
	}
	if len(r.Rows) > 0 {
		if r.Raw != nil {
			b.WriteByte('\n')
		}
		model := r.Model
		if r.Version != "" {
			model += " version " + r.Version
		}
		fmt.Fprintf(&b, "served: %s model %s, batch %d per request\n", r.URL, model, r.Batch)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := "concurrency\tprotocol\tinfer/s\treq/s\tp50 ms\tp90 ms\tp95 ms\tp99 ms\tavg batch\terrors\t"
		if r.Raw != nil {
			header += "ratio\t"
		}
		fmt.Fprintln(tw, header)
		for _, row := range r.Rows {
			l := row.Latency
			avg := "-"
			if row.AvgBatch > 0 {
				avg = fmt.Sprintf("%.2f", row.AvgBatch)
			}
			fmt.Fprintf(tw, "%d\t%s\t%.1f%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%d\t", row.Concurrency, row.Protocol,
				row.InferPerSec, mark(row.Stable), row.ReqPerSec, l.P50, l.P90, l.P95, l.P99, avg, row.Errors)
			if r.Raw != nil {
				if row.Ratio != nil {
					fmt.Fprintf(tw, "%.2f\t", *row.Ratio)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	if best, ok := bestRow(r.Rows); ok && r.Raw != nil && best.Ratio != nil {
		fmt.Fprintf(&b, "best served: %.1f infer/s (%s, concurrency %d) = %.2f of the raw limit\n",
			best.InferPerSec, best.Protocol, best.Concurrency, *best.Ratio)
	}
	if unstable {
		fmt.Fprintf(&b, "* not stable: the last %d windows differed by more than %g%% in infer/s or latency when the measurement ended\n",
			StabilityWindows, r.Stability*100)
	}
	for _, row := range r.Rows {
		if row.Errors == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(row.ErrorsByStatus)) {
			parts = append(parts, fmt.Sprintf("%s x%d", k, row.ErrorsByStatus[k]))
		}
		fmt.Fprintf(&b, "errors at %s concurrency %d: %s; first: %s\n", row.Protocol, row.Concurrency, strings.Join(parts, ", "), row.FirstError)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// bestRow returns the row with the most infer/s.
func bestRow(rows []Row) (Row, bool) {
	if len(rows) == 0 {
		return Row{}, false
	}
	return slices.MaxFunc(rows, func(a, b Row) int { return cmp.Compare(a.InferPerSec, b.InferPerSec) }), true
}
