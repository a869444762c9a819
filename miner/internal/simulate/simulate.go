// Package simulate is `miner simulate`: a whole small subnet on one machine. Miner nodes run in
// process (the serve composition, which package main hands in as a StartMiner), some of them
// behind a degrading proxy; validators (miner/internal/validate) query them over the real axon
// protocol each epoch and set weights; one Yuma epoch (chain/yuma) per round distributes the
// emission. It reports each epoch's scores, weights, consensus, incentive and emission as a
// table, CSV or JSON.
package simulate

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/chain/yuma"
	"github.com/taominer/taominer/miner/internal/cli"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/validate"
	"github.com/taominer/taominer/models/onnx"
)

func simulateUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner simulate [--miners N] [--validators K] [--epochs E] [options]

Runs a whole small subnet on this machine. N miner nodes are started in process (the serve
composition: real ONNX Runtime, real HTTP, an axon per miner with the dev hotkey //MinerI, answering
only the validators' hotkeys). K validators (dev hotkeys //ValidatorJ) each epoch query every miner
with the Infer synapse over the real axon protocol (signed requests), score the answers against the
reference model as miner validate does, and set weights (scores max-upscaled to u16). Then one Yuma
consensus epoch (chain/yuma, subtensor's defaults with Yuma 3 bonds carried between epochs)
distributes a fixed emission. Validator 0 holds 60% of the stake, the others share 40%
(one validator: 100%). Each miner serves the reference model, or its own model (--miner-models,
with the reference's inputs and outputs). Miners are honest or degraded (--kinds); a degraded
miner serves its model behind a simulation-only proxy that changes what validators see:

  honest  the model's answers
  noisy   each output value multiplied by 1 + σ·N(0,1) (σ = --noise)
  wrong   each value's sign flipped plus noise of half the answer's scale (scores 0)
  slow    the model's answers after --latency (a timeout when above --timeout)

--collusion: every validator except validator 0 (together 40% of the stake, less than κ = 50%)
puts all its weight on one bad miner (the first "wrong" one, else the last miner). Consensus
clipping keeps that miner's incentive near what the honest majority gives it.

Options:
  --miners N            miner nodes (default 3)
  --validators K        validators (default 2)
  --epochs E            epochs (default 3)
  --kinds LIST          miner kinds, comma-separated, cycled over the miners
                        (default honest,noisy,wrong,slow)
  --model FILE.onnx     the validators' reference, and the model every miner serves without
                        --miner-models (default model-repo/ppocr_cls/1/model.onnx, the bundled
                        model)
  --miner-models LIST   ONNX files, comma-separated, cycled over the miners: miner i serves file
                        i mod len under the synapse's model name, its kind still applied on top.
                        Each must have the reference's inputs and outputs (names, datatypes,
                        shapes; a dimension variable in the reference must be variable)
  --name NAME           the model name in the synapse (default: the file's, or its folder's for
                        model.onnx)
  --onnxruntime-lib F   libonnxruntime.so (default $TAOMINER_ONNXRUNTIME_LIB, else the usual places)
  --emission ALPHA      alpha distributed per epoch (default 1)
  --rounds N            queries per validator per epoch, scores averaged (default 1)
  --batch N, --dim N    sizes of variable input dimensions (default 1 and 8)
  --noise σ             relative noise of noisy miners (default 0.1)
  --latency DURATION    added latency of slow miners (default 2s)
  --timeout SECONDS     the synapse timeout (default 1)
  --seed N              seed of inputs and degradations (default 1)
  --collusion           the collusion scenario above
  --csv FILE            also write every epoch's miner rows as CSV
  --json FILE           also write the whole run as JSON ("-" for stdout instead of the table)
`)
}

// Miner kinds of --kinds.
const (
	KindHonest = "honest"
	KindNoisy  = "noisy"
	KindWrong  = "wrong"
	KindSlow   = "slow"
)

// simOptions is a parsed `miner simulate` command line.
type simOptions struct {
	miners, validators, epochs, rounds int
	kinds                              []string
	model, name, lib                   string
	minerModels                        []string // --miner-models; empty: every miner serves model
	emission                           uint64
	batch, dim                         int64
	noise                              float64
	latency                            time.Duration
	timeout                            float64
	seed                               uint64
	collusion                          bool
	csvPath, jsonPath                  string
}

// MinerRow is one miner's line of an epoch.
type MinerRow struct {
	Miner  int    `json:"miner"`
	UID    int    `json:"uid"`
	Hotkey string `json:"hotkey"`
	Kind   string `json:"kind"`
	// Model is the base name of the model file the miner serves.
	Model string `json:"model"`
	// Colluded is set on the miner the colluding validators weigh up.
	Colluded bool `json:"colluded,omitempty"`
	// Score is the stake-weighted mean of the scores the validators measured.
	Score float64 `json:"score"`
	// Weight is the stake-weighted mean of the row-normalised weights set on the miner.
	Weight float64 `json:"weight"`
	// Consensus and Incentive are the epoch's u16 values as ratios of 65535.
	Consensus float64 `json:"consensus"`
	Incentive float64 `json:"incentive"`
	// EmissionRao is the miner's emission (rao of alpha).
	EmissionRao uint64 `json:"emission_rao"`
	// LastError is the last failed or malformed answer of the epoch, if any.
	LastError string `json:"last_error,omitempty"`
}

// ValidatorRow is one validator's line of an epoch.
type ValidatorRow struct {
	Validator      int     `json:"validator"`
	UID            int     `json:"uid"`
	Hotkey         string  `json:"hotkey"`
	Stake          float64 `json:"stake"`
	Colluding      bool    `json:"colluding,omitempty"`
	ValidatorTrust float64 `json:"validator_trust"`
	Dividends      float64 `json:"dividends"`
	EmissionRao    uint64  `json:"emission_rao"`
}

// Epoch is one epoch of the run.
type Epoch struct {
	Epoch      int            `json:"epoch"`
	Miners     []MinerRow     `json:"miners"`
	Validators []ValidatorRow `json:"validators"`
}

// Report is `miner simulate --json`.
type Report struct {
	Model       string  `json:"model"`
	EmissionRao uint64  `json:"emission_rao"`
	Collusion   bool    `json:"collusion"`
	Epochs      []Epoch `json:"epochs"`
}

func parseSimulate(args []string, stderr io.Writer) (simOptions, error) {
	flags := flag.NewFlagSet("miner simulate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { simulateUsage(stderr) }
	var o simOptions
	flags.IntVar(&o.miners, "miners", 3, "miner nodes")
	flags.IntVar(&o.validators, "validators", 2, "validators")
	flags.IntVar(&o.epochs, "epochs", 3, "epochs")
	flags.IntVar(&o.rounds, "rounds", 1, "queries per validator per epoch")
	kinds := flags.String("kinds", "honest,noisy,wrong,slow", "miner kinds, cycled")
	flags.StringVar(&o.model, "model", filepath.Join("model-repo", "ppocr_cls", "1", "model.onnx"), "model file")
	minerModels := flags.String("miner-models", "", "model files of the miners, cycled")
	flags.StringVar(&o.name, "name", "", "model name")
	flags.StringVar(&o.lib, "onnxruntime-lib", os.Getenv("TAOMINER_ONNXRUNTIME_LIB"), "libonnxruntime.so")
	emission := flags.Float64("emission", 1, "alpha per epoch")
	flags.Int64Var(&o.batch, "batch", 1, "variable first dimension")
	flags.Int64Var(&o.dim, "dim", 8, "other variable dimensions")
	flags.Float64Var(&o.noise, "noise", 0.1, "relative noise")
	flags.DurationVar(&o.latency, "latency", 2*time.Second, "added latency")
	flags.Float64Var(&o.timeout, "timeout", 1, "synapse timeout, seconds")
	flags.Uint64Var(&o.seed, "seed", 1, "seed")
	flags.BoolVar(&o.collusion, "collusion", false, "collusion scenario")
	flags.StringVar(&o.csvPath, "csv", "", "CSV file")
	flags.StringVar(&o.jsonPath, "json", "", "JSON file")
	if err := cli.ParseFlags(flags, args); err != nil {
		return o, err
	}
	switch {
	case flags.NArg() > 0:
		return o, cli.UsageError{Msg: fmt.Sprintf("unexpected argument %q", flags.Arg(0))}
	case o.miners < 1 || o.validators < 1 || o.epochs < 1 || o.rounds < 1:
		return o, cli.UsageError{Msg: "--miners, --validators, --epochs and --rounds must be positive"}
	case o.miners+o.validators > math.MaxUint16:
		return o, cli.UsageError{Msg: "too many neurons"}
	case o.batch < 1 || o.dim < 1 || !(o.timeout > 0) || o.noise < 0 || o.latency < 0:
		return o, cli.UsageError{Msg: "--batch, --dim and --timeout must be positive, --noise and --latency not negative"}
	case !(*emission >= 0) || *emission > 1e9:
		return o, cli.UsageError{Msg: "--emission must be between 0 and 1e9 alpha"}
	case o.collusion && o.validators < 2:
		return o, cli.UsageError{Msg: "--collusion needs at least 2 validators"}
	case o.model == "":
		return o, cli.UsageError{Msg: "--model is required"}
	}
	o.emission = uint64(math.Round(*emission * 1e9))
	for k := range strings.SplitSeq(*kinds, ",") {
		k = strings.TrimSpace(k)
		switch k {
		case KindHonest, KindNoisy, KindWrong, KindSlow:
			o.kinds = append(o.kinds, k)
		default:
			return o, cli.UsageError{Msg: fmt.Sprintf("--kinds: unknown kind %q (honest, noisy, wrong or slow)", k)}
		}
	}
	if *minerModels != "" {
		for f := range strings.SplitSeq(*minerModels, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				return o, cli.UsageError{Msg: "--miner-models: empty file name"}
			}
			o.minerModels = append(o.minerModels, f)
		}
	}
	if o.name == "" {
		base := filepath.Base(o.model)
		if base == "model.onnx" {
			// repo/<name>/<version>/model.onnx
			base = filepath.Base(filepath.Dir(filepath.Dir(o.model)))
		}
		o.name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	return o, nil
}

// simMiner is one in-process miner node, reached by the validators at Addr (its axon, or the
// degrading proxy in front of it).
type simMiner struct {
	index    int
	uid      int
	kind     string
	model    string // the model file it serves
	hotkey   string
	addr     string
	colluded bool
}

// simulation is one `miner simulate` run.
type simulation struct {
	opt        simOptions
	miners     []simMiner
	validators []*validate.Validator
	hotkeys    []string // validators'
	stakes     []uint64 // validators', rao
	colluding  []bool
}

// StartMiner starts a miner node serving cfg (package main wires serve's composition) and
// returns its axon's bound address and the function that runs it until ctx ends.
type StartMiner func(ctx context.Context, cfg config.Serve, stderr io.Writer) (axonAddr string, run func(context.Context) error, err error)

// Run runs `miner simulate` with args, starting each miner with start.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, start StartMiner) error {
	opt, err := parseSimulate(args, stderr)
	if err != nil {
		return err
	}
	lib, err := onnx.FindLibrary(opt.lib)
	if err != nil {
		return err
	}
	if err := onnx.Init(lib); err != nil {
		return err
	}
	refIO, err := onnx.ReadIO(opt.model, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	ref, err := onnx.Open(opt.model, refIO, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	defer ref.Close()
	for i, f := range opt.minerModels {
		if slices.Contains(opt.minerModels[:i], f) {
			continue
		}
		if err := checkMinerModel(f, refIO); err != nil {
			return fmt.Errorf("--miner-models: %w", err)
		}
	}

	s := &simulation{opt: opt}
	for j := range opt.validators {
		kp, err := wallet.FromURI(fmt.Sprintf("//Validator%d", j))
		if err != nil {
			return err
		}
		defer kp.Zero() // the dendrite signs with it until the run ends
		c, err := dendrite.New(kp)
		if err != nil {
			return err
		}
		s.hotkeys = append(s.hotkeys, kp.SS58())
		s.validators = append(s.validators, &validate.Validator{Client: c, Ref: ref, IO: refIO, Model: opt.name,
			Batch: opt.batch, Dim: opt.dim, Timeout: opt.timeout, Concurrency: opt.miners,
			Rand: rand.New(rand.NewPCG(opt.seed, uint64(j)))})
	}
	s.stakes, s.colluding = simStakes(opt.validators, opt.collusion)

	root, err := os.MkdirTemp("", "taominer-simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	nodeCtx, stopNodes := context.WithCancel(ctx)
	var nodes sync.WaitGroup
	defer func() {
		stopNodes()
		nodes.Wait()
	}()
	for i := range opt.miners {
		m, err := s.startMiner(nodeCtx, &nodes, root, lib, i, start, stderr)
		if err != nil {
			return fmt.Errorf("miner %d: %w", i, err)
		}
		s.miners = append(s.miners, m)
	}
	if opt.collusion {
		target := len(s.miners) - 1
		if i := slices.IndexFunc(s.miners, func(m simMiner) bool { return m.kind == KindWrong }); i >= 0 {
			target = i
		}
		s.miners[target].colluded = true
	}

	rep := Report{Model: opt.name, EmissionRao: opt.emission, Collusion: opt.collusion}
	toStdoutJSON := opt.jsonPath == "-"
	if err := s.run(ctx, func(e Epoch) {
		rep.Epochs = append(rep.Epochs, e)
		if !toStdoutJSON {
			printSimEpoch(stdout, e, opt)
		}
	}); err != nil {
		return err
	}
	if opt.csvPath != "" {
		if err := writeSimCSV(opt.csvPath, rep); err != nil {
			return err
		}
	}
	if opt.jsonPath != "" {
		return writeSimJSON(opt.jsonPath, rep, stdout)
	}
	return nil
}

// simStakes gives validator 0 60% of 10,000 alpha and splits the rest (one validator: all); with
// collusion every validator but 0 colludes.
func simStakes(k int, collusion bool) ([]uint64, []bool) {
	const total = 10_000 * 1e9
	stakes := make([]uint64, k)
	colluding := make([]bool, k)
	if k == 1 {
		stakes[0] = total
		return stakes, colluding
	}
	stakes[0] = total * 6 / 10
	for j := 1; j < k; j++ {
		stakes[j] = total * 4 / 10 / uint64(k-1)
		colluding[j] = collusion
	}
	return stakes, colluding
}

// startMiner starts miner i: a model repository with its model (--model, or its --miner-models
// file) under the synapse's model name, a wallet with //MinerI, a node serving it with an axon that
// answers the validators, and for a degraded kind the proxy.
func (s *simulation) startMiner(ctx context.Context, wg *sync.WaitGroup, root, lib string, i int, start StartMiner, stderr io.Writer) (simMiner, error) {
	m := simMiner{index: i, uid: s.opt.validators + i, kind: s.opt.kinds[i%len(s.opt.kinds)], model: s.opt.model}
	if len(s.opt.minerModels) > 0 {
		m.model = s.opt.minerModels[i%len(s.opt.minerModels)]
	}
	dir := filepath.Join(root, fmt.Sprintf("miner%d", i))
	repo := filepath.Join(dir, "models")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return m, err
	}
	model, err := os.ReadFile(m.model)
	if err != nil {
		return m, err
	}
	if err := os.WriteFile(filepath.Join(repo, s.opt.name+".onnx"), model, 0o644); err != nil {
		return m, err
	}
	kp, err := wallet.FromURI(fmt.Sprintf("//Miner%d", i))
	if err != nil {
		return m, err
	}
	defer kp.Zero()
	m.hotkey = kp.SS58()
	wallets := filepath.Join(dir, "wallets")
	w, err := wallet.Open(wallets, "miner", "default")
	if err != nil {
		return m, err
	}
	if err := w.SetHotkey(kp, false); err != nil {
		return m, err
	}

	cfg := config.DefaultServe()
	cfg.HTTPAddr, cfg.ModelsDir, cfg.LogLevel, cfg.ONNXRuntimeLib = "127.0.0.1:0", repo, "error", lib
	cfg.GRPCAddr = "" // the simulated miners answer on their axons only
	cfg.WalletPath, cfg.Wallet, cfg.AxonPort = wallets, "miner", 0
	cfg.AllowHotkeys = slices.Clone(s.hotkeys)
	axonAddr, run, err := start(ctx, cfg, stderr)
	if err != nil {
		return m, err
	}
	wg.Go(func() {
		if err := run(ctx); err != nil {
			fmt.Fprintf(stderr, "miner %d: %v\n", i, err)
		}
	})
	_, port, err := net.SplitHostPort(axonAddr)
	if err != nil {
		return m, fmt.Errorf("axon address %q: %w", axonAddr, err)
	}
	m.addr = net.JoinHostPort("127.0.0.1", port)
	if m.kind == KindHonest {
		return m, nil
	}
	d := &degrader{kind: m.kind, noise: s.opt.noise, latency: s.opt.latency,
		rng: rand.New(rand.NewPCG(s.opt.seed, 0xde9+uint64(i)))}
	m.addr, err = d.start(ctx, wg, m.addr)
	return m, err
}

// run queries, weighs and runs the Yuma epoch E times, calling report after each.
func (s *simulation) run(ctx context.Context, report func(Epoch)) error {
	k := len(s.validators)
	n := k + len(s.miners)
	const tempo = 360
	p := yuma.DefaultParams()
	p.Tempo, p.ActivityCutoff = tempo, 5000
	in := yuma.Input{N: uint16(n), LastUpdate: make([]uint64, n), BlockAtRegistration: make([]uint64, n),
		AlphaStake: make([]uint64, n), ValidatorPermit: make([]bool, n), Bonds: make([][]yuma.Entry, n),
		RaoEmission: s.opt.emission}
	var totalStake float64
	for j, st := range s.stakes {
		in.AlphaStake[j] = st
		in.ValidatorPermit[j] = true
		totalStake += float64(st)
	}
	targets := make([]validate.Target, len(s.miners))
	for i, m := range s.miners {
		targets[i] = validate.Target{UID: &s.miners[i].uid, Hotkey: m.hotkey, Addr: m.addr}
	}
	for e := range s.opt.epochs {
		// scores[j][i]: validator j's mean score of miner i.
		scores := make([][]float64, k)
		errs := make([]string, len(s.miners)) // the last error of each miner this epoch
		for j, v := range s.validators {
			scores[j] = make([]float64, len(s.miners))
			for r := range s.opt.rounds {
				got, err := v.Round(ctx, r+1, targets)
				if err != nil {
					return err
				}
				for i, rr := range got {
					scores[j][i] += rr.Score / float64(s.opt.rounds)
					if rr.Error != "" {
						errs[i] = rr.Error
					}
				}
			}
		}
		in.Weights = make([][]yuma.Entry, n)
		norm := make([][]float64, k) // row-normalised weights per miner
		for j := range s.validators {
			w := scores[j]
			if s.colluding[j] {
				w = make([]float64, len(s.miners))
				for i, m := range s.miners {
					if m.colluded {
						w[i] = 1
					}
				}
			}
			in.Weights[j], norm[j] = weightRow(w, k)
		}
		in.CurrentBlock = uint64(e+1) * tempo
		if e > 0 {
			in.LastMechanismStepBlock = uint64(e) * tempo
		}
		for u := range in.LastUpdate {
			in.LastUpdate[u] = in.CurrentBlock
		}
		res, err := yuma.Epoch(in, p)
		if err != nil {
			return err
		}
		in.Bonds, in.ValidatorPermit = res.Bonds, res.NewValidatorPermit

		ep := Epoch{Epoch: e + 1}
		for i, m := range s.miners {
			row := MinerRow{Miner: m.index, UID: m.uid, Hotkey: m.hotkey, Kind: m.kind,
				Model: filepath.Base(m.model), Colluded: m.colluded,
				Consensus: float64(res.Consensus[m.uid]) / 65535, Incentive: float64(res.Incentive[m.uid]) / 65535,
				EmissionRao: res.Emission[m.uid], LastError: errs[i]}
			for j := range s.validators {
				share := float64(s.stakes[j]) / totalStake
				row.Score += share * scores[j][i]
				row.Weight += share * norm[j][i]
			}
			ep.Miners = append(ep.Miners, row)
		}
		for j := range s.validators {
			ep.Validators = append(ep.Validators, ValidatorRow{Validator: j, UID: j, Hotkey: s.hotkeys[j],
				Stake: float64(s.stakes[j]) / totalStake, Colluding: s.colluding[j],
				ValidatorTrust: float64(res.ValidatorTrust[j]) / 65535,
				Dividends:      float64(res.Dividends[j]) / 65535, EmissionRao: res.Emission[j]})
		}
		report(ep)
	}
	return nil
}

// weightRow turns one validator's scores of the miners (uids from first) into the row it sets:
// scores max-upscaled to u16 as the SDK does (zeros left out), and the row-normalised weights.
func weightRow(scores []float64, first int) ([]yuma.Entry, []float64) {
	top := slices.Max(scores)
	norm := make([]float64, len(scores))
	if !(top > 0) {
		return nil, norm
	}
	var row []yuma.Entry
	var sum float64
	for i, sc := range scores {
		v := uint16(math.Round(max(0, sc) / top * 65535))
		if v == 0 {
			continue
		}
		row = append(row, yuma.Entry{UID: uint16(first + i), Value: v})
		norm[i] = float64(v)
		sum += float64(v)
	}
	for i := range norm {
		norm[i] /= sum
	}
	return row, norm
}
