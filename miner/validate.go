package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
)

func validateUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner validate --model NAME --reference-model FILE.onnx (--axon IP:PORT=SS58 ... | --netuid N) [options]

Queries axons with the generic Infer synapse, as a validator does, scores each answer against a
reference model run in process, and prints a ranking. Each round draws random inputs from the
reference model's inputs (variable dimensions: --batch for the first, --dim for the others), runs
the reference with ONNX Runtime, sends the same inputs to every axon at once (signed with the
wallet's hotkey), and scores each answer: 1 − ‖answer − reference‖₂ / ‖reference‖₂ per output,
at least 0, averaged over the reference's outputs; 0 for a refusal, an error, a timeout or a
missing output. No weights are set.

Options:
  --axon IP:PORT=SS58   an axon and its hotkey (repeatable); UIDs unknown
  --netuid N            instead: every axon served on subnet N (neurons with a non-zero axon IP)
  --network NETWORK     with --netuid: finney (default), test, local or a ws:// or wss:// URL
  --wallet-path DIR     wallets folder (default ~/.bittensor/wallets)
  --wallet NAME         wallet name (default "default")
  --hotkey NAME         hotkey name, the validator's (default "default"); only the hotkey is loaded
  --model NAME          the model name sent in the synapse (required)
  --reference-model F   the ONNX file whose outputs are the truth (required)
  --onnxruntime-lib F   libonnxruntime.so (default $TAOMINER_ONNXRUNTIME_LIB, else the usual places)
  --batch N             size of a variable first dimension (default 1)
  --dim N               size of other variable dimensions (default 8)
  --seed N              seed of the random inputs (default: from the clock)
  --rounds N            rounds of queries (default 1)
  --every DURATION      time between round starts (default 12s)
  --timeout SECONDS     the synapse timeout, which also bounds each call (default 12)
  --concurrency N       calls in flight at once (default 32)
  --json                one JSON document for scripts
`)
}

// validateTarget is one axon to query.
type validateTarget struct {
	UID    *int
	Hotkey string
	Addr   string
}

// roundResult is one axon's answer in one round.
type roundResult struct {
	Round     int     `json:"round"`
	Status    int     `json:"status"`
	Score     float64 `json:"score"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// ranked is one axon's line of the ranking.
type ranked struct {
	Rank        int           `json:"rank"`
	UID         *int          `json:"uid"`
	Hotkey      string        `json:"hotkey"`
	Addr        string        `json:"addr"`
	Score       float64       `json:"score"`
	SuccessRate float64       `json:"success_rate"`
	P50MS       *float64      `json:"p50_latency_ms"`
	Calls       int           `json:"calls"`
	Errors      int           `json:"errors"`
	LastError   string        `json:"last_error,omitempty"`
	Rounds      []roundResult `json:"rounds"`
}

// validateReport is `miner validate --json`.
type validateReport struct {
	Model   string   `json:"model"`
	Rounds  int      `json:"rounds"`
	Ranking []ranked `json:"ranking"`
}

// axonFlags collects repeatable --axon IP:PORT=SS58 values.
type axonFlags []validateTarget

func (a *axonFlags) String() string { return fmt.Sprint(len(*a)) }

func (a *axonFlags) Set(v string) error {
	addr, hotkey, ok := strings.Cut(v, "=")
	if !ok || addr == "" || hotkey == "" {
		return fmt.Errorf("want IP:PORT=SS58, got %q", v)
	}
	if _, _, err := ss58.Decode(hotkey); err != nil {
		return fmt.Errorf("%q: hotkey: %w", v, err)
	}
	*a = append(*a, validateTarget{Addr: addr, Hotkey: hotkey})
	return nil
}

// validateCmd runs `miner validate` and returns the exit code: 0 ranked, 1 failed, 2 bad command
// line.
func validateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(validate(ctx, args, stdout, stderr), stderr, "miner validate")
}

// validator is one `miner validate` run.
type validator struct {
	client      *dendrite.Client
	ref         *onnx.Session
	io          models.IO
	model       string
	batch, dim  int64
	timeout     float64
	concurrency int
	rng         *rand.Rand
}

func validate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, wf, netuidFlag, network := newSubnetFlagSet("miner validate", "subnet", stderr)
	flags.Usage = func() { validateUsage(stderr) }
	var axons axonFlags
	flags.Var(&axons, "axon", "IP:PORT=SS58 (repeatable)")
	model := flags.String("model", "", "model name")
	refPath := flags.String("reference-model", "", "reference ONNX file")
	lib := flags.String("onnxruntime-lib", os.Getenv("TAOMINER_ONNXRUNTIME_LIB"), "libonnxruntime.so")
	batch := flags.Int64("batch", 1, "variable first dimension")
	dim := flags.Int64("dim", 8, "other variable dimensions")
	seed := flags.Uint64("seed", 0, "input seed (0: from the clock)")
	rounds := flags.Int("rounds", 1, "rounds")
	every := flags.Duration("every", 12*time.Second, "time between rounds")
	timeout := flags.Float64("timeout", axonproto.DefaultTimeout, "synapse timeout, seconds")
	concurrency := flags.Int("concurrency", 32, "calls in flight")
	asJSON := flags.Bool("json", false, "print JSON")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	switch {
	case flags.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q", flags.Arg(0))}
	case *model == "" || *refPath == "":
		return usageError{"--model and --reference-model are required"}
	case len(axons) == 0 && *netuidFlag < 0:
		return usageError{"give --axon IP:PORT=SS58 (repeatable) or --netuid N"}
	case len(axons) > 0 && *netuidFlag >= 0:
		return usageError{"give either --axon or --netuid, not both"}
	case *rounds < 1 || *every < 0 || *batch < 1 || *dim < 1 || !(*timeout > 0) || *concurrency < 1:
		return usageError{"--rounds, --batch, --dim, --timeout and --concurrency must be positive, --every not negative"}
	}
	targets := []validateTarget(axons)
	if *netuidFlag >= 0 {
		netuid, err := validNetuid(*netuidFlag)
		if err != nil {
			return usageError{err.Error()}
		}
		if targets, err = metagraphTargets(ctx, *network, netuid); err != nil {
			return err
		}
		if len(targets) == 0 {
			return fmt.Errorf("no axon is served on subnet %d of %s", netuid, *network)
		}
	}

	w, err := wf.open()
	if err != nil {
		return err
	}
	key, err := w.LoadHotkey()
	if err != nil {
		return fmt.Errorf("hotkey %q of wallet %q: %w", wf.hotkey, wf.name, err)
	}
	defer key.Zero()
	c, err := dendrite.New(key)
	if err != nil {
		return err
	}
	path, err := onnx.FindLibrary(*lib)
	if err != nil {
		return err
	}
	if err := onnx.Init(path); err != nil {
		return err
	}
	refIO, err := onnx.ReadIO(*refPath, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("--reference-model: %w", err)
	}
	sess, err := onnx.Open(*refPath, refIO, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("--reference-model: %w", err)
	}
	defer sess.Close()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	v := &validator{client: c, ref: sess, io: refIO, model: *model, batch: *batch, dim: *dim, timeout: *timeout,
		concurrency: *concurrency, rng: rand.New(rand.NewPCG(*seed, 0x7a0))}

	results := make([][]roundResult, len(targets))
	start := time.Now()
	for r := range *rounds {
		if r > 0 {
			t := time.NewTimer(time.Until(start.Add(time.Duration(r) * *every)))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		got, err := v.round(ctx, r+1, targets)
		if err != nil {
			return err
		}
		for i := range targets {
			results[i] = append(results[i], got[i])
		}
		if !*asJSON {
			fmt.Fprintf(stderr, "round %d/%d: %d axons queried\n", r+1, *rounds, len(targets))
		}
	}
	rep := validateReport{Model: *model, Rounds: *rounds, Ranking: rank(targets, results)}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printRanking(stdout, rep)
	return nil
}

// metagraphTargets reads the subnet's metagraph at the best block and returns every neuron
// serving an axon.
func metagraphTargets(ctx context.Context, network string, netuid uint16) ([]validateTarget, error) {
	r, best, closeRPC, err := dialSubnet(ctx, network, netuid)
	if err != nil {
		return nil, err
	}
	defer closeRPC()
	snap, err := metagraph.Read(ctx, r.c, netuid, best, *r.at, nil, nil)
	if err != nil {
		return nil, err
	}
	return servingAxons(snap), nil
}

// servingAxons lists the neurons whose axon has a non-zero IP, by UID.
func servingAxons(s *metagraph.Snapshot) []validateTarget {
	var out []validateTarget
	for _, nr := range s.Neurons {
		if !servesAxon(nr.Axon) {
			continue
		}
		uid := int(nr.UID)
		out = append(out, validateTarget{UID: &uid, Hotkey: nr.Hotkey, Addr: axonAddr(nr.Axon)})
	}
	return out
}

func servesAxon(a neuron.AxonInfo) bool {
	ip, ok := a.Addr()
	return ok && a.IP != (scale.Uint128{}) && !ip.IsUnspecified() && a.Port != 0
}

// round draws inputs, runs the reference and queries every target with them.
func (v *validator) round(ctx context.Context, n int, targets []validateTarget) ([]roundResult, error) {
	inputs, inputsJSON, err := v.inputs()
	if err != nil {
		return nil, err
	}
	want, err := v.ref.Run(ctx, inputs)
	if err != nil {
		return nil, fmt.Errorf("reference model: %w", err)
	}
	ref := make([]refOutput, len(want))
	for i, t := range want {
		vals, err := tensorValues(t)
		if err != nil {
			return nil, fmt.Errorf("reference output %q: %w", t.Name, err)
		}
		ref[i] = refOutput{name: t.Name, shape: t.Shape, values: vals}
	}
	out := make([]roundResult, len(targets))
	sem := make(chan struct{}, v.concurrency)
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = v.query(ctx, tg, inputsJSON, ref)
			out[i].Round = n
		})
	}
	wg.Wait()
	return out, ctx.Err()
}

// query sends the Infer synapse to one axon and scores the answer.
func (v *validator) query(ctx context.Context, tg validateTarget, inputs json.RawMessage, ref []refOutput) roundResult {
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("model", v.model)
	syn.Set("inputs", inputs)
	syn.Set("outputs", json.RawMessage(`null`))
	req := dendrite.Request{Name: axon.InferName, Synapse: syn, Timeout: v.timeout,
		Required: []axonproto.Field{{Name: "model", Empty: `""`}, {Name: "inputs", Empty: `[]`}}}
	resp, err := v.client.Call(ctx, dendrite.Target{Addr: tg.Addr, Hotkey: tg.Hotkey}, req)
	if err != nil {
		return roundResult{Error: err.Error()}
	}
	res := roundResult{Status: resp.Status, LatencyMS: float64(resp.ProcessTime.Microseconds()) / 1e3}
	if resp.Status != 200 || resp.Synapse == nil {
		res.Error = fmt.Sprintf("%d %s", resp.Status, resp.Message)
		return res
	}
	raw, _ := resp.Synapse.Field("outputs")
	res.Score, err = scoreOutputs(raw, ref)
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// answerTensor is an output tensor of an Infer answer.
type answerTensor struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	Data  []any   `json:"data"`
}

// refOutput is one reference output, as float64 values.
type refOutput struct {
	name   string
	shape  []int64
	values []float64
}

// scoreOutputs scores an Infer answer's outputs (KServe v2 JSON tensors, flat data) against the
// reference: per reference output 1 − ‖a − r‖₂ / ‖r‖₂ clamped to [0, 1] (when ‖r‖₂ is 0, the
// absolute error ‖a‖₂), 0 for a missing output or another shape, averaged. The
// error names what was wrong with a missing or malformed output; the score still counts the rest.
func scoreOutputs(raw json.RawMessage, ref []refOutput) (float64, error) {
	var outs []answerTensor
	if err := json.Unmarshal(raw, &outs); err != nil {
		return 0, fmt.Errorf("outputs: %w", err)
	}
	if len(ref) == 0 {
		return 1, nil
	}
	var errs []error
	var total float64
	for _, r := range ref {
		i := slices.IndexFunc(outs, func(o answerTensor) bool { return o.Name == r.name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("output %q missing", r.name))
			continue
		}
		o := outs[i]
		if !slices.Equal(o.Shape, r.shape) {
			errs = append(errs, fmt.Errorf("output %q: shape %v, want %v", r.name, o.Shape, r.shape))
			continue
		}
		got, err := jsonValues(o.Data)
		if err != nil || len(got) != len(r.values) {
			errs = append(errs, fmt.Errorf("output %q: %d values (%v), want %d", r.name, len(got), err, len(r.values)))
			continue
		}
		var diff, norm float64
		for k, want := range r.values {
			d := got[k] - want
			diff += d * d
			norm += want * want
		}
		if norm == 0 {
			norm = 1
		}
		e := math.Sqrt(diff / norm)
		if math.IsNaN(e) {
			e = 1
		}
		total += max(0, 1-e)
	}
	return total / float64(len(ref)), errors.Join(errs...)
}

// jsonValues reads flat JSON data as float64 (true = 1; "NaN", "Infinity" as Go parses them).
func jsonValues(data []any) ([]float64, error) {
	out := make([]float64, len(data))
	for i, d := range data {
		switch x := d.(type) {
		case float64:
			out[i] = x
		case bool:
			if x {
				out[i] = 1
			}
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("value %d: %q is not a number", i, x)
			}
			out[i] = f
		default:
			return nil, fmt.Errorf("value %d: %v is not a number (nested data?)", i, d)
		}
	}
	return out, nil
}

// inputs draws one set of inputs from the reference's input specs: floats uniform in [-1, 1),
// integers in [0, 10), booleans at random. It returns the tensors and their KServe v2 JSON.
func (v *validator) inputs() ([]tensor.Tensor, json.RawMessage, error) {
	type jsonTensor struct {
		Name     string  `json:"name"`
		Shape    []int64 `json:"shape"`
		Datatype string  `json:"datatype"`
		Data     []any   `json:"data"`
	}
	ts := make([]tensor.Tensor, len(v.io.Inputs))
	js := make([]jsonTensor, len(v.io.Inputs))
	for i, spec := range v.io.Inputs {
		shape := make([]int64, len(spec.Shape))
		for k, d := range spec.Shape {
			switch {
			case d >= 0:
				shape[k] = d
			case k == 0:
				shape[k] = v.batch
			default:
				shape[k] = v.dim
			}
		}
		n := tensor.NumElements(shape)
		size := spec.DataType.Size()
		t := tensor.Tensor{Name: spec.Name, DataType: spec.DataType, Shape: shape, Data: make([]byte, int(n)*size)}
		data := make([]any, n)
		for k := range int(n) {
			b := t.Data[k*size:]
			var iv int64
			if spec.DataType != tensor.FP32 && spec.DataType != tensor.FP64 && spec.DataType != tensor.Bool {
				iv = v.rng.Int64N(10)
			}
			switch spec.DataType {
			case tensor.FP32:
				f := float32(v.rng.Float64()*2 - 1)
				binary.LittleEndian.PutUint32(b, math.Float32bits(f))
				data[k] = json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32))
			case tensor.FP64:
				f := v.rng.Float64()*2 - 1
				binary.LittleEndian.PutUint64(b, math.Float64bits(f))
				data[k] = f
			case tensor.Bool:
				x := v.rng.IntN(2) == 1
				if x {
					b[0] = 1
				}
				data[k] = x
			case tensor.Int8, tensor.Uint8:
				b[0], data[k] = byte(iv), iv
			case tensor.Int16, tensor.Uint16:
				binary.LittleEndian.PutUint16(b, uint16(iv))
				data[k] = iv
			case tensor.Int32, tensor.Uint32:
				binary.LittleEndian.PutUint32(b, uint32(iv))
				data[k] = iv
			case tensor.Int64, tensor.Uint64:
				binary.LittleEndian.PutUint64(b, uint64(iv))
				data[k] = iv
			default:
				return nil, nil, fmt.Errorf("reference input %q: datatype %s is not generated (FP32, FP64, BOOL and integers are)", spec.Name, spec.DataType)
			}
		}
		ts[i] = t
		js[i] = jsonTensor{Name: spec.Name, Shape: shape, Datatype: spec.DataType.String(), Data: data}
	}
	raw, err := json.Marshal(js)
	return ts, raw, err
}

// tensorValues reads a numeric or boolean tensor as float64 values.
func tensorValues(t tensor.Tensor) ([]float64, error) {
	size := t.DataType.Size()
	if size == 0 || t.DataType == tensor.FP16 || t.DataType == tensor.BF16 {
		return nil, fmt.Errorf("datatype %s is not scored", t.DataType)
	}
	n := len(t.Data) / size
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range n {
		b := t.Data[i*size:]
		switch t.DataType {
		case tensor.FP32:
			out[i] = float64(math.Float32frombits(le.Uint32(b)))
		case tensor.FP64:
			out[i] = math.Float64frombits(le.Uint64(b))
		case tensor.Bool, tensor.Uint8:
			out[i] = float64(b[0])
		case tensor.Int8:
			out[i] = float64(int8(b[0]))
		case tensor.Uint16:
			out[i] = float64(le.Uint16(b))
		case tensor.Int16:
			out[i] = float64(int16(le.Uint16(b)))
		case tensor.Uint32:
			out[i] = float64(le.Uint32(b))
		case tensor.Int32:
			out[i] = float64(int32(le.Uint32(b)))
		case tensor.Uint64:
			out[i] = float64(le.Uint64(b))
		case tensor.Int64:
			out[i] = float64(int64(le.Uint64(b)))
		}
	}
	return out, nil
}

// rank aggregates each target's rounds and orders them: mean score, then success rate, then p50
// latency (unknown last), then address.
func rank(targets []validateTarget, results [][]roundResult) []ranked {
	out := make([]ranked, len(targets))
	for i, tg := range targets {
		r := ranked{UID: tg.UID, Hotkey: tg.Hotkey, Addr: tg.Addr, Rounds: results[i], Calls: len(results[i])}
		var lat []float64
		ok := 0
		for _, rr := range results[i] {
			r.Score += rr.Score
			if rr.Error != "" {
				r.Errors++
				r.LastError = rr.Error
			}
			if rr.Status == 200 {
				ok++
				lat = append(lat, rr.LatencyMS)
			}
		}
		if r.Calls > 0 {
			r.Score /= float64(r.Calls)
			r.SuccessRate = float64(ok) / float64(r.Calls)
		}
		if len(lat) > 0 {
			slices.Sort(lat)
			p := lat[(len(lat)-1)/2]
			if len(lat)%2 == 0 {
				p = (lat[len(lat)/2-1] + lat[len(lat)/2]) / 2
			}
			r.P50MS = &p
		}
		out[i] = r
	}
	slices.SortStableFunc(out, func(a, b ranked) int {
		switch {
		case a.Score != b.Score:
			return cmpDesc(a.Score, b.Score)
		case a.SuccessRate != b.SuccessRate:
			return cmpDesc(a.SuccessRate, b.SuccessRate)
		case (a.P50MS == nil) != (b.P50MS == nil):
			if a.P50MS == nil {
				return 1
			}
			return -1
		case a.P50MS != nil && *a.P50MS != *b.P50MS:
			return cmpDesc(*b.P50MS, *a.P50MS)
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

func cmpDesc(a, b float64) int {
	if a > b {
		return -1
	}
	return 1
}

func printRanking(w io.Writer, rep validateReport) {
	fmt.Fprintf(w, "model %s, %d round(s)\n", rep.Model, rep.Rounds)
	fmt.Fprintf(w, "%4s  %5s  %-48s  %-21s  %6s  %7s  %9s  %s\n", "rank", "uid", "hotkey", "address", "score", "success", "p50 ms", "errors")
	for _, r := range rep.Ranking {
		uid := "-"
		if r.UID != nil {
			uid = strconv.Itoa(*r.UID)
		}
		p50 := "-"
		if r.P50MS != nil {
			p50 = strconv.FormatFloat(*r.P50MS, 'f', 2, 64)
		}
		errs := strconv.Itoa(r.Errors)
		if r.LastError != "" {
			errs += " (last: " + r.LastError + ")"
		}
		fmt.Fprintf(w, "%4d  %5s  %-48s  %-21s  %6.4f  %6.0f%%  %9s  %s\n", r.Rank, uid, r.Hotkey, r.Addr, r.Score,
			100*r.SuccessRate, p50, errs)
	}
}
