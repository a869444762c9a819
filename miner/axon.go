package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula/receiver"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/kernels/wordpiece"
	"github.com/taominer/taominer/mapping"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/engine"
)

// axonNode is the node's running axon: its handler on its bound port.
type axonNode struct {
	ax   *axon.Axon
	port *livePort
}

// runsAxon reports whether the node runs an axon: a wallet is configured
// and the node answers requests (not a worker).
func (n *node) runsAxon() bool { return n.cfg.Wallet != "" && n.cfg.Role != roleWorker }

// bindAxon binds the Bittensor axon's port on all interfaces at
// --axon-port, when the node runs an axon, before anything slow: until
// startAxon it answers 503 "starting: ...". The port shuts down with the
// node's loops.
func (n *node) bindAxon() error {
	if !n.runsAxon() {
		return nil
	}
	starting := axon.Starting(n.startPhase, n.startingRefused("axon", "axon"))
	p, err := n.openPort("axon", "axon", "--axon-port", fmt.Sprintf(":%d", n.cfg.AxonPort), starting)
	if err != nil {
		return err
	}
	n.axon = &axonNode{port: p}
	n.loops = append(n.loops, p.run(n.cfg.ShutdownTimeout))
	return nil
}

// startAxon builds the axon of the port bindAxon bound, if any, and
// serves it there beside the Epistula receiver (requests carrying
// Epistula-Version). It forwards to opts.Inferer (the engine, or the Redis
// front), and checks callers against mg (nil: no chain, only
// --allow-hotkey callers are answered).
func (n *node) startAxon(opts server.Options, reg prometheus.Registerer, mg axon.Metagraph) error {
	if n.axon == nil {
		return nil
	}
	inf := opts.Inferer
	cfg := n.cfg
	hotkey, err := axonHotkey(cfg)
	if err != nil {
		return fmt.Errorf("axon: %w", err)
	}
	log := n.log.With("component", "axon")
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taominer_axon_fallback_total",
		Help: "Mapped synapses answered with the mapping's fallback values, by synapse, model and cause " +
			"(bad_input, no_model, busy, unavailable, not_finite, model_error)."}, []string{"synapse", "model", "reason"})
	if reg != nil {
		if err := reg.Register(fallbacks); err != nil {
			return fmt.Errorf("axon metrics: %w", err)
		}
	}
	maps := mappingSet(cfg, inf, log, func(synapse, model, reason string) {
		fallbacks.WithLabelValues(synapse, model, reason).Inc()
	})
	ax, err := axon.New(axon.Options{
		Hotkey:         hotkey,
		Verifier:       wallet.SS58Verifier{},
		Metagraph:      mg,
		MinStake:       uint64(math.Round(cfg.MinValidatorStake * 1e9)),
		Allow:          cfg.AllowHotkeys,
		Deny:           cfg.DenyHotkeys,
		RateLimit:      cfg.AxonRateLimit,
		NonceStoreSize: cfg.AxonNonceStore,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Inferer:        inf,
		Kinds:          maps,
		Registerer:     reg,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	signed := opts // the KServe routes behind Epistula: the signer's stake is the priority
	signed.Priority = receiver.StakePriority
	rc, err := receiver.New(receiver.Options{Hotkey: hotkey, Verifier: wallet.SS58Verifier{}, Policy: ax,
		Routes: receiver.Routes{KServe: server.InferHandler(signed), Mapped: maps}, Window: cfg.EpistulaWindow,
		ReplayStoreSize: cfg.EpistulaReplayStore, MaxBodyBytes: cfg.MaxBodyBytes, Refusals: n.guards.met,
		Logger: log.With("protocol", receiver.Protocol)})
	if err != nil {
		return err
	}
	n.axon.ax = ax
	n.axon.port.set(receiver.Split(rc, ax.Handler()))
	if cfg.ModelControl == engine.ControlPoll {
		every := cfg.RepositoryPollInterval
		if every <= 0 {
			every = time.Second
		}
		n.loops = append(n.loops, func(ctx context.Context) error { return maps.Run(ctx, every) })
	}
	chain := "none: only --allow-hotkey callers are answered"
	if mg != nil {
		chain = "metagraph"
	}
	log.Info("axon serving", "addr", n.axon.port.Addr(), "hotkey", hotkey, "callers", chain,
		"min_validator_stake", cfg.MinValidatorStake, "rate_limit", cfg.AxonRateLimit,
		"epistula_window", cfg.EpistulaWindow, "epistula_routes", maps.EpistulaRoutes())
	return nil
}

// mappingSet loads the synapse mappings of the model folder (also on an
// api-role node, whose folder then holds only mapping files): their routes
// answer through inf, beside Infer, and report fallback answers to
// onFallback. In poll mode the axon's loop follows the folder; otherwise
// they are read once here.
func mappingSet(cfg config.Serve, inf axon.Inferer, log *slog.Logger, onFallback mapping.FallbackObserver) *mapping.Set {
	set := mapping.NewSet(mapping.SetOptions{Dir: cfg.ModelsDir, Inferer: inf, Load: mappingOptions(), Logger: log,
		OnFallback: onFallback})
	_ = set.Sync() // failures are logged per file
	if names := set.KindNames(); len(names) > 0 {
		log.Info("mapped synapses", "synapses", names)
	}
	return set
}

// mappingOptions are the hooks mappings load with: text inputs use the
// WordPiece tokenizer, from a BERT vocab.txt (uncased with lowerCase, which
// also strips accents, as Hugging Face's BertTokenizer) or a Hugging Face
// tokenizer.json (which carries its own settings).
func mappingOptions() mapping.Options {
	return mapping.Options{Tokenizer: func(vocab string, lowerCase bool) (mapping.Tokenizer, error) {
		if strings.HasSuffix(vocab, ".json") {
			return wordpiece.LoadHF(vocab)
		}
		opt := wordpiece.DefaultOptions()
		opt.Lowercase = lowerCase
		return wordpiece.Load(vocab, opt)
	}}
}

// AxonAddr is the axon's bound address, or "" when it does not run.
func (n *node) AxonAddr() string {
	if n.axon == nil {
		return ""
	}
	return n.axon.port.Addr()
}

// axonHotkey loads the serving hotkey once and returns its SS58 address;
// the axon verifies callers against it and never signs, so the secret is
// zeroed at once.
func axonHotkey(cfg config.Serve) (string, error) {
	kp, err := loadServeHotkey(cfg)
	if err != nil {
		return "", err
	}
	defer kp.Zero()
	return kp.SS58(), nil
}

// chainMetagraph answers the axon's caller lookups from the chain node's
// latest metagraph snapshot (read without locks).
type chainMetagraph struct{ cn *chainNode }

func (m chainMetagraph) Caller(hotkey string) (axon.Caller, bool) {
	nr, ok := m.cn.Snapshot().ByHotkey(hotkey)
	if !ok {
		return axon.Caller{}, false
	}
	return axon.Caller{UID: nr.UID, Stake: nr.Stake, ValidatorPermit: nr.ValidatorPermit}, true
}

// Loaded reports whether the first metagraph sync is done.
func (m chainMetagraph) Loaded() bool { return m.cn.Snapshot() != nil }

// metagraph is the axon's view of cn; nil (no chain: only --allow-hotkey
// callers) when cn is nil.
func (cn *chainNode) metagraph() axon.Metagraph {
	if cn == nil {
		return nil
	}
	return chainMetagraph{cn}
}
