package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/chain/yuma"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models"
	"github.com/taominer/taominer/models/onnx"
	"github.com/taominer/taominer/models/tensor"
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
	kindHonest = "honest"
	kindNoisy  = "noisy"
	kindWrong  = "wrong"
	kindSlow   = "slow"
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

// simMinerRow is one miner's line of an epoch.
type simMinerRow struct {
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

// simValidatorRow is one validator's line of an epoch.
type simValidatorRow struct {
	Validator      int     `json:"validator"`
	UID            int     `json:"uid"`
	Hotkey         string  `json:"hotkey"`
	Stake          float64 `json:"stake"`
	Colluding      bool    `json:"colluding,omitempty"`
	ValidatorTrust float64 `json:"validator_trust"`
	Dividends      float64 `json:"dividends"`
	EmissionRao    uint64  `json:"emission_rao"`
}

// simEpoch is one epoch of the run.
type simEpoch struct {
	Epoch      int               `json:"epoch"`
	Miners     []simMinerRow     `json:"miners"`
	Validators []simValidatorRow `json:"validators"`
}

// simReport is `miner simulate --json`.
type simReport struct {
	Model       string     `json:"model"`
	EmissionRao uint64     `json:"emission_rao"`
	Collusion   bool       `json:"collusion"`
	Epochs      []simEpoch `json:"epochs"`
}

// simulateCmd runs `miner simulate` and returns the exit code: 0 done, 1 failed, 2 bad command
// line.
func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exitCode(simulate(ctx, args, stdout, stderr), stderr, "miner simulate")
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
	if err := parseFlags(flags, args); err != nil {
		return o, err
	}
	switch {
	case flags.NArg() > 0:
		return o, usageError{fmt.Sprintf("unexpected argument %q", flags.Arg(0))}
	case o.miners < 1 || o.validators < 1 || o.epochs < 1 || o.rounds < 1:
		return o, usageError{"--miners, --validators, --epochs and --rounds must be positive"}
	case o.miners+o.validators > math.MaxUint16:
		return o, usageError{"too many neurons"}
	case o.batch < 1 || o.dim < 1 || !(o.timeout > 0) || o.noise < 0 || o.latency < 0:
		return o, usageError{"--batch, --dim and --timeout must be positive, --noise and --latency not negative"}
	case !(*emission >= 0) || *emission > 1e9:
		return o, usageError{"--emission must be between 0 and 1e9 alpha"}
	case o.collusion && o.validators < 2:
		return o, usageError{"--collusion needs at least 2 validators"}
	case o.model == "":
		return o, usageError{"--model is required"}
	}
	o.emission = uint64(math.Round(*emission * 1e9))
	for k := range strings.SplitSeq(*kinds, ",") {
		k = strings.TrimSpace(k)
		switch k {
		case kindHonest, kindNoisy, kindWrong, kindSlow:
			o.kinds = append(o.kinds, k)
		default:
			return o, usageError{fmt.Sprintf("--kinds: unknown kind %q (honest, noisy, wrong or slow)", k)}
		}
	}
	if *minerModels != "" {
		for f := range strings.SplitSeq(*minerModels, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				return o, usageError{"--miner-models: empty file name"}
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
	validators []*validator
	hotkeys    []string // validators'
	stakes     []uint64 // validators', rao
	colluding  []bool
}

func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
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
		s.validators = append(s.validators, &validator{client: c, ref: ref, io: refIO, model: opt.name,
			batch: opt.batch, dim: opt.dim, timeout: opt.timeout, concurrency: opt.miners,
			rng: rand.New(rand.NewPCG(opt.seed, uint64(j)))})
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
		m, err := s.startMiner(nodeCtx, &nodes, root, lib, i, stderr)
		if err != nil {
			return fmt.Errorf("miner %d: %w", i, err)
		}
		s.miners = append(s.miners, m)
	}
	if opt.collusion {
		target := len(s.miners) - 1
		if i := slices.IndexFunc(s.miners, func(m simMiner) bool { return m.kind == kindWrong }); i >= 0 {
			target = i
		}
		s.miners[target].colluded = true
	}

	rep := simReport{Model: opt.name, EmissionRao: opt.emission, Collusion: opt.collusion}
	toStdoutJSON := opt.jsonPath == "-"
	if err := s.run(ctx, func(e simEpoch) {
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

// checkMinerModel reads a --miner-models file and checks that it has the reference's inputs and
// outputs, so that it answers the validators' requests with outputs they can score.
func checkMinerModel(path string, ref models.IO) error {
	got, err := onnx.ReadIO(path, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return err
	}
	mismatch := append(specsMismatch("input", ref.Inputs, got.Inputs), specsMismatch("output", ref.Outputs, got.Outputs)...)
	if len(mismatch) > 0 {
		return fmt.Errorf("%s: inputs and outputs differ from the reference's: %s", path, strings.Join(mismatch, "; "))
	}
	return nil
}

// specsMismatch lists how a miner model's inputs or outputs (what) differ from the reference's:
// missing or extra names, other datatypes, and shapes that do not fit. A dimension fixed in the
// miner's model must equal the reference's, which must then be fixed too; a variable one fits any.
func specsMismatch(what string, ref, got []models.TensorSpec) []string {
	var out []string
	for _, r := range ref {
		i := slices.IndexFunc(got, func(g models.TensorSpec) bool { return g.Name == r.Name })
		if i < 0 {
			out = append(out, fmt.Sprintf("%s %q missing", what, r.Name))
			continue
		}
		g := got[i]
		if g.DataType != r.DataType {
			out = append(out, fmt.Sprintf("%s %q: datatype %s, reference %s", what, r.Name, g.DataType, r.DataType))
		}
		fits := len(g.Shape) == len(r.Shape)
		for k := 0; fits && k < len(g.Shape); k++ {
			fits = g.Shape[k] < 0 || g.Shape[k] == r.Shape[k]
		}
		if !fits {
			out = append(out, fmt.Sprintf("%s %q: shape %s, reference %s", what, r.Name,
				tensor.FormatShape(g.Shape), tensor.FormatShape(r.Shape)))
		}
	}
	for _, g := range got {
		if !slices.ContainsFunc(ref, func(r models.TensorSpec) bool { return r.Name == g.Name }) {
			out = append(out, fmt.Sprintf("%s %q not in the reference", what, g.Name))
		}
	}
	return out
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
func (s *simulation) startMiner(ctx context.Context, wg *sync.WaitGroup, root, lib string, i int, stderr io.Writer) (simMiner, error) {
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
	cfg.WalletPath, cfg.Wallet, cfg.AxonPort = wallets, "miner", 0
	cfg.AllowHotkeys = slices.Clone(s.hotkeys)
	n, err := newNode(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return m, err
	}
	wg.Go(func() {
		if err := n.run(ctx); err != nil {
			fmt.Fprintf(stderr, "miner %d: %v\n", i, err)
		}
	})
	_, port, err := net.SplitHostPort(n.AxonAddr())
	if err != nil {
		return m, fmt.Errorf("axon address %q: %w", n.AxonAddr(), err)
	}
	m.addr = net.JoinHostPort("127.0.0.1", port)
	if m.kind == kindHonest {
		return m, nil
	}
	d := &degrader{kind: m.kind, noise: s.opt.noise, latency: s.opt.latency,
		rng: rand.New(rand.NewPCG(s.opt.seed, 0xde9+uint64(i)))}
	m.addr, err = d.start(ctx, wg, m.addr)
	return m, err
}

// degrader is the simulation-only reverse proxy in front of a degraded miner's axon: the node
// serves the real model; the proxy delays or changes the answers the validators read.
type degrader struct {
	kind    string
	noise   float64
	latency time.Duration
	mu      sync.Mutex
	rng     *rand.Rand
}

// start listens on 127.0.0.1 and proxies to the axon at target until ctx ends; it returns the
// proxy's address.
func (d *degrader) start(ctx context.Context, wg *sync.WaitGroup, target string) (string, error) {
	u := &url.URL{Scheme: "http", Host: target}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = d.modify
	proxy.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.kind == kindSlow && d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	})
	return ln.Addr().String(), nil
}

// modify rewrites the outputs of a 200 Infer answer: noisy multiplies each value by
// 1 + σ·N(0,1), wrong flips each value's sign and adds N(0, (rms/2)²) (an error of about twice the
// answer's norm: score 0).
func (d *degrader) modify(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK || (d.kind != kindNoisy && d.kind != kindWrong) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	if out, err := d.degrade(body); err == nil {
		body = out
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (d *degrader) degrade(body []byte) ([]byte, error) {
	var syn map[string]json.RawMessage
	if err := json.Unmarshal(body, &syn); err != nil {
		return nil, err
	}
	var outs []map[string]json.RawMessage
	if err := json.Unmarshal(syn["outputs"], &outs); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range outs {
		var data []any
		if err := json.Unmarshal(o["data"], &data); err != nil {
			return nil, err
		}
		var sq float64
		for _, v := range data {
			if f, ok := v.(float64); ok {
				sq += f * f
			}
		}
		rms := math.Sqrt(sq / float64(max(1, len(data))))
		for k, v := range data {
			f, ok := v.(float64)
			if !ok {
				continue
			}
			if d.kind == kindNoisy {
				data[k] = f * (1 + d.noise*d.rng.NormFloat64())
			} else {
				data[k] = -f + rms*d.rng.NormFloat64()/2
			}
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		o["data"] = raw
	}
	raw, err := json.Marshal(outs)
	if err != nil {
		return nil, err
	}
	syn["outputs"] = raw
	return json.Marshal(syn)
}

// run queries, weighs and runs the Yuma epoch E times, calling report after each.
func (s *simulation) run(ctx context.Context, report func(simEpoch)) error {
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
	targets := make([]validateTarget, len(s.miners))
	for i, m := range s.miners {
		targets[i] = validateTarget{UID: &s.miners[i].uid, Hotkey: m.hotkey, Addr: m.addr}
	}
	for e := range s.opt.epochs {
		// scores[j][i]: validator j's mean score of miner i.
		scores := make([][]float64, k)
		errs := make([]string, len(s.miners)) // the last error of each miner this epoch
		for j, v := range s.validators {
			scores[j] = make([]float64, len(s.miners))
			for r := range s.opt.rounds {
				got, err := v.round(ctx, r+1, targets)
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

		ep := simEpoch{Epoch: e + 1}
		for i, m := range s.miners {
			row := simMinerRow{Miner: m.index, UID: m.uid, Hotkey: m.hotkey, Kind: m.kind,
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
			ep.Validators = append(ep.Validators, simValidatorRow{Validator: j, UID: j, Hotkey: s.hotkeys[j],
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

func printSimEpoch(w io.Writer, e simEpoch, opt simOptions) {
	fmt.Fprintf(w, "epoch %d/%d (%s α emitted)\n", e.Epoch, opt.epochs, formatAlpha(opt.emission))
	width := len("model")
	for _, m := range e.Miners {
		width = max(width, len(m.Model))
	}
	fmt.Fprintf(w, "  %5s  %3s  %-7s  %-*s  %6s  %6s  %9s  %9s  %12s\n", "miner", "uid", "kind", width, "model",
		"score", "weight", "consensus", "incentive", "emission α")
	for _, m := range e.Miners {
		kind := m.Kind
		if m.Colluded {
			kind += "*"
		}
		fmt.Fprintf(w, "  %5d  %3d  %-7s  %-*s  %6.4f  %6.4f  %9.4f  %9.4f  %12s\n", m.Miner, m.UID, kind, width,
			m.Model, m.Score, m.Weight, m.Consensus, m.Incentive, formatAlpha(m.EmissionRao))
	}
	fmt.Fprintf(w, "  %9s  %3s  %6s  %6s  %9s  %12s\n", "validator", "uid", "stake", "vtrust", "dividends", "emission α")
	for _, v := range e.Validators {
		mark := ""
		if v.Colluding {
			mark = "  colluding"
		}
		fmt.Fprintf(w, "  %9d  %3d  %5.1f%%  %6.4f  %9.4f  %12s%s\n", v.Validator, v.UID, 100*v.Stake,
			v.ValidatorTrust, v.Dividends, formatAlpha(v.EmissionRao), mark)
	}
	if opt.collusion {
		fmt.Fprintln(w, "  * weighed up by the colluding validators")
	}
}

// formatAlpha prints rao as alpha with 9 decimals.
func formatAlpha(rao uint64) string {
	return fmt.Sprintf("%d.%09d", rao/1e9, rao%1e9)
}

func writeSimCSV(path string, rep simReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"epoch", "miner", "uid", "hotkey", "kind", "colluded", "score", "weight", "consensus",
		"incentive", "emission_rao", "model"})
	ff := func(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }
	for _, e := range rep.Epochs {
		for _, m := range e.Miners {
			_ = cw.Write([]string{strconv.Itoa(e.Epoch), strconv.Itoa(m.Miner), strconv.Itoa(m.UID), m.Hotkey, m.Kind,
				strconv.FormatBool(m.Colluded), ff(m.Score), ff(m.Weight), ff(m.Consensus), ff(m.Incentive),
				strconv.FormatUint(m.EmissionRao, 10), m.Model})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		_ = f.Close()
		return fmt.Errorf("--csv: %w", err)
	}
	return f.Close()
}

func writeSimJSON(path string, rep simReport, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
