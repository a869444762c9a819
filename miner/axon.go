package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/kernels/wordpiece"
	"github.com/taominer/taominer/mapping"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/engine"
)

// axonNode is the node's running axon: its handler, server and bound
// listener.
type axonNode struct {
	ax  *axon.Axon
	srv *http.Server
	ln  net.Listener
}

// startAxon binds the Bittensor axon on all interfaces at --axon-port when
// a wallet is configured and the node answers requests (not a worker). It
// forwards to inf (the engine, or the Redis front), and checks callers
// against mg (nil: no chain, only --allow-hotkey callers are answered).
// The server runs as one of the node's loops and shuts down with it.
func (n *node) startAxon(inf axon.Inferer, reg prometheus.Registerer, mg axon.Metagraph) error {
	cfg := n.cfg
	if cfg.Wallet == "" || cfg.Role == roleWorker {
		return nil
	}
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
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.AxonPort))
	if err != nil {
		return fmt.Errorf("axon listen: %w", err)
	}
	p := n.guards.port("axon")
	a := &axonNode{ax: ax, ln: p.Listen(ln), srv: p.Server(p.Handler("axon", ax.Handler()))}
	n.axon = a
	n.closers = append(n.closers, func() { _ = ln.Close() })
	n.loops = append(n.loops, a.run(cfg.ShutdownTimeout))
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
	log.Info("axon serving", "addr", ln.Addr().String(), "hotkey", hotkey, "callers", chain,
		"min_validator_stake", cfg.MinValidatorStake, "rate_limit", cfg.AxonRateLimit)
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

// run serves until ctx ends, then shuts down within timeout.
func (a *axonNode) run(timeout time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- a.srv.Serve(a.ln) }()
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("axon server: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := a.srv.Shutdown(sctx)
		<-errc
		return err
	}
}

// AxonAddr is the axon's bound address, or "" when it does not run.
func (n *node) AxonAddr() string {
	if n.axon == nil {
		return ""
	}
	return n.axon.ln.Addr().String()
}

// axonHotkey loads the serving hotkey once and returns its SS58 address;
// the axon verifies callers against it and never signs, so the secret is
// zeroed at once.
func axonHotkey(cfg config.Serve) (string, error) {
	path, err := expandHome(cfg.WalletPath)
	if err != nil {
		return "", err
	}
	w, err := wallet.Open(path, cfg.Wallet, cfg.Hotkey)
	if err != nil {
		return "", err
	}
	kp, err := w.LoadHotkey()
	if err != nil {
		return "", fmt.Errorf("hotkey %q of wallet %q: %w", cfg.Hotkey, cfg.Wallet, err)
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

// metagraph is the axon's view of cn; nil (no chain: only --allow-hotkey
// callers) when cn is nil.
func (cn *chainNode) metagraph() axon.Metagraph {
	if cn == nil {
		return nil
	}
	return chainMetagraph{cn}
}
