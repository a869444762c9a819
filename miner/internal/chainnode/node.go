// Package chainnode is serve's link to the chain: a Node connects to --network, checks that the
// hotkey is registered on --netuid, follows the subnet's metagraph (chain/metagraph), keeps the
// axon published (serve_axon when the chain's differs) and the --commit-endpoint commitment
// current (chain/commitments), projects the hotkey's Yuma standing after each sync (chain/yuma),
// and reports all of it for GET /v1/chain and the taominer_chain_* gauges. It reads the chain
// through the typed client (chain/client's State). It also holds what the one-shot chain commands
// share with it: dialing a --network value and rendering axons. Package main wires a Node into
// the node it serves; the axon's view of callers reads Node.Snapshot.
package chainnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/cli"
	"github.com/taominer/taominer/miner/internal/config"
)

// AxonVersion is the version published with serve_axon: the Python SDK's version_as_int of the
// bittensor release whose axon protocol the miner speaks (10.2.0 → 10002000, wallet-and-axon §5.2).
const AxonVersion = 10_002_000

// RaoPerTAO is 10^9: balances, stake and emission are counted in rao (of TAO or of alpha).
const RaoPerTAO = 1_000_000_000

// Options are the parts of the chain wiring tests replace.
type Options struct {
	// DetectIP finds the public IP when --external-ip is not given.
	DetectIP func(ctx context.Context) (netip.Addr, error)
	// Poll is how often the metagraph syncer looks at the best block.
	Poll time.Duration
	// RetryServe is how long to wait before trying serve_axon again after a failure.
	RetryServe time.Duration
}

// Defaults returns the production options: the public IP from DetectPublicIP, a poll per block
// (12 s), a minute between serve_axon attempts.
func Defaults() Options {
	return Options{DetectIP: DetectPublicIP, Poll: 12 * time.Second, RetryServe: time.Minute}
}

// Validators reports what the node's axon saw of validator calls (the axon satisfies it).
type Validators interface {
	Validators() api.Validators
}

// Node is serve's link to the chain: it follows the subnet's metagraph, keeps the hotkey's
// axon published, and reports both for GET /v1/chain and the taominer_chain_* gauges.
type Node struct {
	log      *slog.Logger
	opts     Options
	network  string
	endpoint string
	netuid   uint16
	hot      *wallet.Keypair
	hotSS58  string
	c        *client.Client
	closeRPC func()
	syncer   *metagraph.Syncer
	want     extrinsic.Axon // what we publish
	wantAddr string
	synced   chan struct{} // a metagraph sync happened
	ax       Validators    // the node's axon (nil: none); set before the HTTP server starts

	commit     *commitments.Keeper // publishes --commit-endpoint; nil without it
	commitWake chan struct{}       // a metagraph sync happened, for the commitment

	mu           sync.Mutex
	uid          int // -1 when not registered
	onChain      neuron.AxonInfo
	published    bool // the chain's axon equals want
	lastServeErr string
	lastServeAt  time.Time

	projectWake chan struct{} // a metagraph sync to project from
	projection  *api.Projection
	projectErr  string
	projectAt   time.Time
}

// Start connects to cfg.Network, checks that hot is registered on cfg.Netuid and works out
// the axon address to publish. Run then follows the chain.
func Start(ctx context.Context, cfg config.Serve, hot *wallet.Keypair, log *slog.Logger, opts Options) (*Node, error) {
	if cfg.Netuid < 0 {
		return nil, errors.New("--network needs --netuid: the subnet to mine on")
	}
	netuid, err := cli.ValidNetuid(cfg.Netuid)
	if err != nil {
		return nil, err
	}
	if hot == nil {
		return nil, errors.New("--network needs --wallet (and --hotkey): the hotkey registered on the subnet")
	}
	endpoint, err := rpc.Endpoint(cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("--network: %w", err)
	}
	var ip netip.Addr
	if cfg.ExternalIP != "" {
		if ip, err = netip.ParseAddr(cfg.ExternalIP); err != nil {
			return nil, fmt.Errorf("--external-ip: %w", err)
		}
	} else if ip, err = opts.DetectIP(ctx); err != nil {
		return nil, err
	}
	ip = ip.Unmap()
	if err := checkAxonIP(cfg.Network, ip); err != nil {
		return nil, err
	}
	port := cfg.ExternalPort
	if port == 0 {
		port = cfg.AxonPort
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("axon port %d out of range", port)
	}
	ipNum, ipType := axonIP(ip)
	n := &Node{
		log: log.With("network", cfg.Network, "netuid", netuid), opts: opts, network: cfg.Network, endpoint: endpoint,
		netuid: netuid, hot: hot, hotSS58: hot.SS58(), uid: -1, synced: make(chan struct{}, 1),
		projectWake: make(chan struct{}, 1),
		want:        extrinsic.Axon{NetUID: netuid, Version: AxonVersion, IP: ipNum, Port: uint16(port), IPType: ipType, Protocol: 4},
		wantAddr:    netip.AddrPortFrom(ip, uint16(port)).String(),
	}
	if n.c, n.closeRPC, err = Dial(ctx, cfg.Network, log); err != nil {
		return nil, err
	}
	r := n.c.At(nil)
	exists, err := r.SubnetExists(ctx, netuid)
	if err == nil && !exists {
		err = fmt.Errorf("subnet %d does not exist on %s", netuid, cfg.Network)
	}
	if err == nil {
		uid, ok, rerr := r.UID(ctx, netuid, hot.PublicKey())
		switch {
		case rerr != nil:
			err = fmt.Errorf("check registration: %w", rerr)
		case !ok:
			err = fmt.Errorf("hotkey %s is not registered on subnet %d of %s: register it first with `miner register --network %s --netuid %d --wallet %s --hotkey %s`",
				n.hotSS58, netuid, cfg.Network, cfg.Network, netuid, cfg.Wallet, cfg.Hotkey)
		default:
			n.uid = int(uid)
		}
	}
	if err != nil {
		n.closeRPC()
		return nil, err
	}
	if cfg.CommitEndpoint != "" {
		n.commitWake = make(chan struct{}, 1)
		n.commit, err = commitments.NewKeeper(n.c, hot, netuid, cfg.CommitEndpoint, commitments.KeeperOptions{Logger: n.log, Ready: n.registered})
		if err != nil {
			n.closeRPC()
			return nil, fmt.Errorf("--commit-endpoint: %w", err)
		}
	}
	every := uint64(cfg.MetagraphEvery)
	n.syncer = metagraph.New(n.c, metagraph.Options{NetUID: netuid, Every: every, Poll: opts.Poll, Logger: log, OnSync: n.onSync})
	n.log.Info("following the chain", "endpoint", endpoint, "hotkey", n.hotSS58, "uid", n.uid, "axon", n.wantAddr)
	return n, nil
}

// Close closes the chain connection.
func (n *Node) Close() { n.closeRPC() }

// Snapshot returns the latest metagraph, or nil before the first sync.
func (n *Node) Snapshot() *metagraph.Snapshot { return n.syncer.Current() }

// onSync updates the registration from a new snapshot and wakes the axon loop.
func (n *Node) onSync(s *metagraph.Snapshot) {
	uid := -1
	if nr, ok := s.ByHotkey(n.hotSS58); ok {
		uid = int(nr.UID)
	}
	n.mu.Lock()
	was := n.uid
	n.uid = uid
	n.mu.Unlock()
	if uid < 0 && was >= 0 {
		n.log.Warn("the hotkey is no longer registered on the subnet (deregistered?); run `miner register` again", "hotkey", n.hotSS58, "block", s.Block)
	} else if uid >= 0 && uid != was {
		n.log.Info("hotkey registered", "uid", uid, "block", s.Block)
	}
	select {
	case n.synced <- struct{}{}:
	default:
	}
	for _, wake := range []chan struct{}{n.projectWake, n.commitWake} {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Run follows the metagraph and keeps the axon published until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.syncer.Run(ctx) })
	g.Go(func() error { return n.axonLoop(ctx) })
	g.Go(func() error { return n.projectLoop(ctx) })
	if n.commit != nil {
		g.Go(func() error { return n.keepLoop(ctx, n.commitWake, n.commit.Ensure) })
	}
	return g.Wait()
}

// registered says why the hotkey cannot commit yet (the runtime refuses commitments from
// unregistered hotkeys), or nil.
func (n *Node) registered() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.uid < 0 {
		return fmt.Errorf("hotkey %s is not registered on subnet %d", n.hotSS58, n.netuid)
	}
	return nil
}

// projectLoop runs the Yuma projection for the hotkey after each metagraph sync. A failure is
// reported in GET /v1/chain and retried at the next sync.
func (n *Node) projectLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.projectWake:
		}
		s := n.Snapshot()
		if s == nil {
			continue
		}
		var pr *api.Projection
		var err error
		if nr, ok := s.ByHotkey(n.hotSS58); ok {
			pr, err = Project(ctx, n.c, s, nr.UID)
		}
		if ctx.Err() != nil {
			return nil
		}
		n.mu.Lock()
		n.projection, n.projectErr, n.projectAt = pr, "", time.Now()
		if err != nil {
			n.projectErr = err.Error()
			n.log.Warn("projection failed", "block", s.Block, "err", err)
		}
		n.mu.Unlock()
	}
}

// axonLoop checks the published axon at start, after each metagraph sync, and (until it is
// published) every RetryServe.
func (n *Node) axonLoop(ctx context.Context) error {
	return n.keepLoop(ctx, n.synced, n.ensureAxon)
}

// keepLoop runs ensure at start, on each wake and, while it reports not done, after the wait it
// asks for (0: RetryServe), until ctx ends.
func (n *Node) keepLoop(ctx context.Context, wake <-chan struct{}, ensure func(context.Context) (bool, time.Duration)) error {
	for {
		wait := n.opts.RetryServe
		if ok, retry := ensure(ctx); ok {
			wait = 0
		} else if retry > 0 {
			wait = retry
		}
		var t *time.Timer
		var timer <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// ensureAxon publishes the axon when the chain's differs from ours. It reports whether the chain
// now has ours, and how long to wait before retrying when it does not (0 = RetryServe).
func (n *Node) ensureAxon(ctx context.Context) (bool, time.Duration) {
	ok, retry, err := n.publishAxon(ctx)
	n.mu.Lock()
	n.published = ok
	if err != nil && ctx.Err() == nil {
		n.lastServeErr, n.lastServeAt = err.Error(), time.Now()
	} else if ok {
		n.lastServeErr = ""
	}
	n.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		n.log.Warn("axon not published; retrying later", "err", err, "retry_in", max(retry, n.opts.RetryServe))
	}
	return ok, retry
}

func (n *Node) publishAxon(ctx context.Context) (bool, time.Duration, error) {
	n.mu.Lock()
	registered := n.uid >= 0
	n.mu.Unlock()
	if !registered {
		return false, 0, fmt.Errorf("hotkey %s is not registered on subnet %d", n.hotSS58, n.netuid)
	}
	h, err := n.c.Header(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("best block: %w", err)
	}
	hash, err := n.c.BlockHash(ctx, h.Number)
	if err != nil {
		return false, 0, fmt.Errorf("best block: %w", err)
	}
	r := n.c.At(&hash)
	cur, err := r.Axon(ctx, n.netuid, n.hot.PublicKey())
	if err != nil {
		return false, 0, fmt.Errorf("read the axon on chain: %w", err)
	}
	n.mu.Lock()
	n.onChain = cur
	n.mu.Unlock()
	if sameAxon(cur, n.want) {
		return true, 0, nil
	}
	// The serving rate limit (ServingRateLimit blocks since the last serve); waiting beats a
	// rejection (pool error ServingRateLimitExceeded).
	limit, err := r.ServingRateLimit(ctx, n.netuid)
	if err != nil {
		return false, 0, err
	}
	if limit > 0 && cur.Block > 0 && h.Number < cur.Block+limit {
		left := cur.Block + limit - h.Number
		return false, time.Duration(left) * 12 * time.Second,
			fmt.Errorf("serving rate limit: the axon was served at block %d, the subnet allows a change every %d blocks (now %d)", cur.Block, limit, h.Number)
	}
	if _, err := n.c.Refresh(ctx); err != nil {
		return false, 0, fmt.Errorf("runtime version: %w", err)
	}
	call, err := extrinsic.ServeAxon(n.c.Runtime().Metadata, n.want)
	if err != nil {
		return false, 0, err
	}
	n.log.Info("publishing the axon (serve_axon)", "axon", n.wantAddr, "on_chain", AxonAddr(cur), "version", n.want.Version)
	block, err := n.c.SignAndSubmit(ctx, call, n.hot, client.SignOptions{})
	if err != nil {
		// A rate-limited serve (pool error 1010, Custom error 12 ServingRateLimitExceeded) is
		// retried like any failure, after RetryServe.
		return false, 0, fmt.Errorf("serve_axon: %w", err)
	}
	after, err := n.c.At(&block).Axon(ctx, n.netuid, n.hot.PublicKey())
	if err != nil {
		return false, 0, fmt.Errorf("read the axon after serve_axon: %w", err)
	}
	n.mu.Lock()
	n.onChain = after
	n.mu.Unlock()
	if !sameAxon(after, n.want) {
		return false, 0, fmt.Errorf("serve_axon was included in block %s but the chain's axon is %s", block, AxonAddr(after))
	}
	n.log.Info("axon published", "axon", n.wantAddr, "block", block)
	return true, 0, nil
}

// sameAxon reports whether the chain's axon already carries a's address, port and version.
func sameAxon(cur neuron.AxonInfo, a extrinsic.Axon) bool {
	return cur.IP == a.IP && cur.Port == a.Port && cur.IPType == a.IPType && cur.Version == a.Version && cur.Protocol == a.Protocol
}

// SetValidators shows v's recent callers in the validators section of ChainStatus. Call it
// before the node's HTTP server starts.
func (n *Node) SetValidators(v Validators) { n.ax = v }
