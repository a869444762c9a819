// Package loadgen measures a KServe v2 / Open Inference Protocol server the
// way Triton's perf_analyzer does, and the in-process ONNX Runtime limit of
// the same model, so that both figures come from one run.
//
// The served side sweeps concurrency levels with closed-loop workers (each
// sends its next request only after the previous answer), measures fixed-length
// windows until the last three agree within the stability threshold in both
// infer/s and latency (perf_analyzer's rule) or the trial limit is reached,
// and reports infer/s, req/s, latency percentiles, the server's average batch
// size and failures. Inputs are random, real-valued where the datatype allows,
// shaped from the model's metadata. The raw side runs the model file in a
// tight loop with the miner's session options at several batch sizes; the
// best items/s is the limit each served row is compared to.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/taominer/taominer/api"
)

// errNoModel is returned when neither a served model nor a raw model file
// is given.
var errNoModel = errors.New("nothing to measure: give a served model, a raw model file, or both")

// The request body encodings: JSON tensors, or the binary tensor extension
// (inputs and outputs as raw bytes after a JSON header).
// ProtocolGRPC sends the same inputs as KServe gRPC ModelInfer calls, in
// raw_input_contents, to Options.GRPCAddr.
const (
	ProtocolJSON   = "json"
	ProtocolBinary = "binary"
	ProtocolGRPC   = "grpc"
)

// Options configure a Run. Model, Raw or both must be set.
type Options struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8000.
	URL string
	// Model and Version name the served model; an empty Model skips the
	// served measurement, an empty Version uses the server's choice.
	Model, Version string
	// Protocols lists the encodings to measure: ProtocolJSON,
	// ProtocolBinary, ProtocolGRPC, in any combination.
	Protocols []string
	// GRPCAddr is the host:port of the server's gRPC port, for
	// ProtocolGRPC.
	GRPCAddr string
	// Concurrency lists the numbers of outstanding requests to sweep.
	Concurrency []int
	// Batch is the number of items per request (the batch axis).
	Batch int
	// Shapes fixes variable dimensions by input name.
	Shapes Shapes
	// Seed seeds the random inputs.
	Seed uint64
	// Measure sets windows, stability and trials.
	Measure Measure
	// Raw, when set, measures the in-process limit first.
	Raw *RawOptions
	// Progress receives a status line per window; nil writes none.
	Progress *Progress
}

// Row is the served measurement of one protocol at one concurrency, merged
// over the last StabilityWindows windows.
type Row struct {
	Concurrency int     `json:"concurrency"`
	Protocol    string  `json:"protocol"`
	InferPerSec float64 `json:"infer_per_sec"`
	ReqPerSec   float64 `json:"req_per_sec"`
	Latency     Latency `json:"latency"`
	// Requests counts the successful requests the figures are based on.
	Requests int `json:"requests"`
	// AvgBatch is the server's items per execution over the windows, from
	// its statistics; 0 when the server has none.
	AvgBatch float64 `json:"avg_batch"`
	// Errors counts every failed request of the measurement, all windows
	// included; ErrorsByStatus splits them by HTTP status or "transport".
	Errors         int            `json:"errors"`
	ErrorsByStatus map[string]int `json:"errors_by_status,omitempty"`
	FirstError     string         `json:"first_error,omitempty"`
	// Ratio is InferPerSec over the raw limit, when it was measured.
	Ratio   *float64 `json:"ratio,omitempty"`
	Stable  bool     `json:"stable"`
	Windows int      `json:"windows"`
}

// Report is everything a Run measured.
type Report struct {
	URL        string     `json:"url,omitempty"`
	Model      string     `json:"model,omitempty"`
	Version    string     `json:"version,omitempty"`
	Batch      int        `json:"batch"`
	Window     string     `json:"window"`
	Stability  float64    `json:"stability"`
	MaxTrials  int        `json:"max_trials"`
	Percentile int        `json:"percentile,omitempty"`
	Raw        *RawReport `json:"raw,omitempty"`
	Rows       []Row      `json:"rows"`
}

// Errors returns the number of failed requests over all rows.
func (r *Report) Errors() int {
	n := 0
	for _, row := range r.Rows {
		n += row.Errors
	}
	return n
}

// validate checks the options that do not need the server.
func (o *Options) validate() error {
	m := o.Measure
	switch {
	case o.Model == "" && o.Raw == nil:
		return errNoModel
	case m.Window <= 0:
		return fmt.Errorf("window %v: must be positive", m.Window)
	case m.MaxTrials < 1:
		return fmt.Errorf("max trials %d: must be at least 1", m.MaxTrials)
	case m.Stability <= 0:
		return fmt.Errorf("stability %v: must be positive", m.Stability)
	case m.Percentile < 0 || m.Percentile > 100:
		return fmt.Errorf("percentile %d: must be within 0..100", m.Percentile)
	}
	if o.Model != "" {
		if o.Batch < 1 {
			return fmt.Errorf("batch %d: must be at least 1", o.Batch)
		}
		if len(o.Concurrency) == 0 || slices.ContainsFunc(o.Concurrency, func(c int) bool { return c < 1 }) {
			return fmt.Errorf("concurrency %v: want one or more levels of at least 1", o.Concurrency)
		}
		if len(o.Protocols) == 0 {
			return errors.New("no protocol: want json, binary or grpc")
		}
		for _, p := range o.Protocols {
			if p != ProtocolJSON && p != ProtocolBinary && p != ProtocolGRPC {
				return fmt.Errorf("protocol %q: want json, binary or grpc", p)
			}
			if p == ProtocolGRPC && o.GRPCAddr == "" {
				return errors.New("protocol grpc needs the gRPC address (host:port)")
			}
		}
	}
	if o.Raw != nil {
		if o.Raw.ModelFile == "" {
			return fmt.Errorf("raw measurement without a model file")
		}
		if len(o.Raw.Batches) == 0 || slices.ContainsFunc(o.Raw.Batches, func(b int) bool { return b < 1 }) {
			return fmt.Errorf("raw batch sizes %v: want one or more of at least 1", o.Raw.Batches)
		}
	}
	return nil
}

// Run measures what o asks for: first the raw limit (when o.Raw is set),
// then the served model at every protocol and concurrency. Everything that
// can fail before load is sent (metadata, shapes) is checked first. It stops
// at ctx's end and then returns what was measured so far with ctx's error.
// Failed requests do not make Run fail; they are counted in the rows.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	defer o.Progress.Clear()
	m := o.Measure
	rep := &Report{Batch: o.Batch, Window: m.Window.String(), Stability: m.Stability, MaxTrials: m.MaxTrials,
		Percentile: m.Percentile, Rows: []Row{}}
	var s *served
	if o.Model != "" {
		var err error
		if s, err = prepare(ctx, &o); err != nil {
			return nil, err
		}
		rep.URL, rep.Model, rep.Version = o.URL, o.Model, o.Version
	}
	if o.Raw != nil {
		var hint Shapes
		if s != nil {
			hint = ConcreteShapes(s.specs)
		}
		raw, err := runRaw(ctx, *o.Raw, o.Shapes, hint, o.Seed, m, o.Progress)
		rep.Raw = raw
		if err != nil {
			return rep, err
		}
	}
	if s == nil {
		return rep, nil
	}
	for _, p := range o.Protocols {
		for _, c := range o.Concurrency {
			var ld load = s.target.httpLoad(s.bodies[p], s.headerLens[p], c)
			if p == ProtocolGRPC {
				ld = &grpcLoad{addr: o.GRPCAddr, msg: s.bodies[p]}
			}
			ws, err := s.target.level(ctx, ld, c, s.items, m, func(n int, w *window) {
				errs, _, _ := countErrors([]window{*w})
				o.Progress.Update("%s c=%d  window %d/%d  %.1f infer/s  p99 %.2f ms  errors %d", p, c, n, m.MaxTrials,
					w.itemsPerSec(), ms(percentileOf(slices.Sorted(slices.Values(w.lat)), 99)), errs)
			})
			if len(ws) > 0 {
				rep.Rows = append(rep.Rows, servedRow(p, c, ws, m, rep.Raw))
			}
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// served is a model ready to be loaded: its inputs and the request body of
// each protocol, encoded once.
type served struct {
	target     *target
	specs      []InputSpec
	items      int // per request
	bodies     map[string][]byte
	headerLens map[string]int
}

// prepare reads the model's metadata and encodes random inputs in every
// protocol of o.
func prepare(ctx context.Context, o *Options) (*served, error) {
	t := &target{client: &http.Client{Timeout: 30 * time.Second}, base: strings.TrimRight(o.URL, "/"), model: o.Model, version: o.Version}
	md, err := t.metadata(ctx)
	if err != nil {
		return nil, err
	}
	specs, err := SpecsFromMetadata(md)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", o.Model, err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))
	inputs, err := BuildInputs(specs, o.Batch, o.Shapes, rng)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", o.Model, err)
	}
	s := &served{target: t, specs: specs, items: ItemsPerRequest(specs, o.Batch), bodies: map[string][]byte{}, headerLens: map[string]int{}}
	for _, p := range o.Protocols {
		req := &api.InferRequest{Inputs: inputs, BinaryOutput: p == ProtocolBinary}
		if p == ProtocolGRPC {
			if s.bodies[p], err = grpcRequest(o.Model, o.Version, req); err != nil {
				return nil, err
			}
			continue
		}
		s.bodies[p], s.headerLens[p] = api.AppendInferRequest(nil, req, p == ProtocolBinary)
	}
	return s, nil
}

// servedRow merges the last windows of one level into a Row.
func servedRow(protocol string, conc int, ws []window, m Measure, raw *RawReport) Row {
	last := merge(ws[max(0, len(ws)-StabilityWindows):])
	row := Row{Concurrency: conc, Protocol: protocol, Latency: summarize(last.lat), Requests: last.requests,
		Stable: stable(ws, m.Stability, m.Percentile), Windows: len(ws)}
	if last.dur > 0 {
		row.InferPerSec = float64(last.items) / last.dur.Seconds()
		row.ReqPerSec = float64(last.requests) / last.dur.Seconds()
	}
	if last.statsOK && last.executions > 0 {
		row.AvgBatch = float64(last.inferences) / float64(last.executions)
	}
	row.Errors, row.ErrorsByStatus, row.FirstError = countErrors(ws)
	if row.Errors == 0 {
		row.ErrorsByStatus = nil
	}
	if raw != nil && raw.Limit > 0 {
		r := row.InferPerSec / raw.Limit
		row.Ratio = &r
	}
	return row
}
