// Package validate is `miner validate`, a validator's view of miners without weights: each
// round it draws random inputs from a reference model's inputs, runs the reference with ONNX
// Runtime, sends the same inputs to every axon at once with the Infer synapse (signed by a
// hotkey, api/dendrite), scores each answer against the reference (1 − relative L2 error per
// output) and ranks the axons. miner/internal/simulate queries its miners with the same
// Validator.
package validate

import (
	"context"
	"encoding/binary"
	"encoding/json"
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
	"github.com/taominer/taominer/miner/internal/chainnode"
	"github.com/taominer/taominer/miner/internal/cli"
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

// Target is one axon to query.
type Target struct {
	UID    *int
	Hotkey string
	Addr   string
}

// RoundResult is one axon's answer in one round.
type RoundResult struct {
	Round     int     `json:"round"`
	Status    int     `json:"status"`
	Score     float64 `json:"score"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Ranked is one axon's line of the ranking.
type Ranked struct {
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
	Rounds      []RoundResult `json:"rounds"`
}

// Report is `miner validate --json`.
type Report struct {
	Model   string   `json:"model"`
	Rounds  int      `json:"rounds"`
	Ranking []Ranked `json:"ranking"`
}

// axonFlags collects repeatable --axon IP:PORT=SS58 values.
type axonFlags []Target

func (a *axonFlags) String() string { return fmt.Sprint(len(*a)) }

func (a *axonFlags) Set(v string) error {
	addr, hotkey, ok := strings.Cut(v, "=")
	if !ok || addr == "" || hotkey == "" {
		return fmt.Errorf("want IP:PORT=SS58, got %q", v)
	}
	if _, _, err := ss58.Decode(hotkey); err != nil {
		return fmt.Errorf("%q: hotkey: %w", v, err)
	}
	*a = append(*a, Target{Addr: addr, Hotkey: hotkey})
	return nil
}

// Validator queries axons with the Infer synapse and scores the answers against a reference
// model: one `miner validate` run, or one validator of miner simulate.
type Validator struct {
	Client      *dendrite.Client
	Ref         *onnx.Session // the reference model
	IO          models.IO     // the reference's inputs and outputs
	Model       string        // the model name sent in the synapse
	Batch, Dim  int64         // sizes of a variable first dimension and of the others
	Timeout     float64       // the synapse timeout, seconds
	Concurrency int           // calls in flight at once
	Rand        *rand.Rand    // draws the inputs
}

// Run runs `miner validate` with args: 0 rounds fail, a ranking is printed (or --json).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, wf, netuidFlag, network := cli.NewSubnetFlagSet("miner validate", "subnet", stderr)
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
	if err := cli.ParseFlags(flags, args); err != nil {
		return err
	}
	switch {
	case flags.NArg() > 0:
		return cli.UsageError{Msg: fmt.Sprintf("unexpected argument %q", flags.Arg(0))}
	case *model == "" || *refPath == "":
		return cli.UsageError{Msg: "--model and --reference-model are required"}
	case len(axons) == 0 && *netuidFlag < 0:
		return cli.UsageError{Msg: "give --axon IP:PORT=SS58 (repeatable) or --netuid N"}
	case len(axons) > 0 && *netuidFlag >= 0:
		return cli.UsageError{Msg: "give either --axon or --netuid, not both"}
	case *rounds < 1 || *every < 0 || *batch < 1 || *dim < 1 || !(*timeout > 0) || *concurrency < 1:
		return cli.UsageError{Msg: "--rounds, --batch, --dim, --timeout and --concurrency must be positive, --every not negative"}
	}
	targets := []Target(axons)
	if *netuidFlag >= 0 {
		netuid, err := cli.ValidNetuid(*netuidFlag)
		if err != nil {
			return cli.UsageError{Msg: err.Error()}
		}
		if targets, err = metagraphTargets(ctx, *network, netuid); err != nil {
			return err
		}
		if len(targets) == 0 {
			return fmt.Errorf("no axon is served on subnet %d of %s", netuid, *network)
		}
	}

	w, err := wf.Open()
	if err != nil {
		return err
	}
	key, err := w.LoadHotkey()
	if err != nil {
		return fmt.Errorf("hotkey %q of wallet %q: %w", wf.Hotkey, wf.Name, err)
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
	v := &Validator{Client: c, Ref: sess, IO: refIO, Model: *model, Batch: *batch, Dim: *dim, Timeout: *timeout,
		Concurrency: *concurrency, Rand: rand.New(rand.NewPCG(*seed, 0x7a0))}

	results := make([][]RoundResult, len(targets))
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
		got, err := v.Round(ctx, r+1, targets)
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
	rep := Report{Model: *model, Rounds: *rounds, Ranking: rank(targets, results)}
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
func metagraphTargets(ctx context.Context, network string, netuid uint16) ([]Target, error) {
	r, best, closeRPC, err := chainnode.DialSubnet(ctx, network, netuid)
	if err != nil {
		return nil, err
	}
	defer closeRPC()
	snap, err := metagraph.Read(ctx, r.Client(), netuid, best, *r.Block(), nil, nil)
	if err != nil {
		return nil, err
	}
	return servingAxons(snap), nil
}

// servingAxons lists the neurons whose axon has a non-zero IP, by UID.
func servingAxons(s *metagraph.Snapshot) []Target {
	var out []Target
	for _, nr := range s.Neurons {
		if !servesAxon(nr.Axon) {
			continue
		}
		uid := int(nr.UID)
		out = append(out, Target{UID: &uid, Hotkey: nr.Hotkey, Addr: chainnode.AxonAddr(nr.Axon)})
	}
	return out
}

func servesAxon(a neuron.AxonInfo) bool {
	ip, ok := a.Addr()
	return ok && a.IP != (scale.Uint128{}) && !ip.IsUnspecified() && a.Port != 0
}

// Round draws inputs, runs the reference and queries every target with them.
func (v *Validator) Round(ctx context.Context, n int, targets []Target) ([]RoundResult, error) {
	inputs, inputsJSON, err := v.inputs()
	if err != nil {
		return nil, err
	}
	want, err := v.Ref.Run(ctx, inputs)
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
	out := make([]RoundResult, len(targets))
	sem := make(chan struct{}, v.Concurrency)
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
func (v *Validator) query(ctx context.Context, tg Target, inputs json.RawMessage, ref []refOutput) RoundResult {
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("model", v.Model)
	syn.Set("inputs", inputs)
	syn.Set("outputs", json.RawMessage(`null`))
	req := dendrite.Request{Name: axon.InferName, Synapse: syn, Timeout: v.Timeout,
		Required: []axonproto.Field{{Name: "model", Empty: `""`}, {Name: "inputs", Empty: `[]`}}}
	resp, err := v.Client.Call(ctx, dendrite.Target{Addr: tg.Addr, Hotkey: tg.Hotkey}, req)
	if err != nil {
		return RoundResult{Error: err.Error()}
	}
	res := RoundResult{Status: resp.Status, LatencyMS: float64(resp.ProcessTime.Microseconds()) / 1e3}
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

// inputs draws one set of inputs from the reference's input specs: floats uniform in [-1, 1),
// integers in [0, 10), booleans at random. It returns the tensors and their KServe v2 JSON.
func (v *Validator) inputs() ([]tensor.Tensor, json.RawMessage, error) {
	type jsonTensor struct {
		Name     string  `json:"name"`
		Shape    []int64 `json:"shape"`
		Datatype string  `json:"datatype"`
		Data     []any   `json:"data"`
	}
	ts := make([]tensor.Tensor, len(v.IO.Inputs))
	js := make([]jsonTensor, len(v.IO.Inputs))
	for i, spec := range v.IO.Inputs {
		shape := make([]int64, len(spec.Shape))
		for k, d := range spec.Shape {
			switch {
			case d >= 0:
				shape[k] = d
			case k == 0:
				shape[k] = v.Batch
			default:
				shape[k] = v.Dim
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
				iv = v.Rand.Int64N(10)
			}
			switch spec.DataType {
			case tensor.FP32:
				f := float32(v.Rand.Float64()*2 - 1)
				binary.LittleEndian.PutUint32(b, math.Float32bits(f))
				data[k] = json.Number(strconv.FormatFloat(float64(f), 'g', -1, 32))
			case tensor.FP64:
				f := v.Rand.Float64()*2 - 1
				binary.LittleEndian.PutUint64(b, math.Float64bits(f))
				data[k] = f
			case tensor.Bool:
				x := v.Rand.IntN(2) == 1
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

// rank aggregates each target's rounds and orders them: mean score, then success rate, then p50
// latency (unknown last), then address.
func rank(targets []Target, results [][]RoundResult) []Ranked {
	out := make([]Ranked, len(targets))
	for i, tg := range targets {
		r := Ranked{UID: tg.UID, Hotkey: tg.Hotkey, Addr: tg.Addr, Rounds: results[i], Calls: len(results[i])}
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
	slices.SortStableFunc(out, func(a, b Ranked) int {
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

func printRanking(w io.Writer, rep Report) {
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
