package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/taominer/taominer/api"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/storage"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
)

// axonVersion is the version published with serve_axon: the Python SDK's version_as_int of the
// bittensor release whose axon protocol the miner speaks (10.2.0 → 10002000, wallet-and-axon §5.2).
const axonVersion = 10_002_000

// raoPerTAO is 10^9: balances, stake and emission are counted in rao (of TAO or of alpha).
const raoPerTAO = 1_000_000_000

// chainOptions are the parts of the chain wiring tests replace.
type chainOptions struct {
	// DetectIP finds the public IP when --external-ip is not given.
	DetectIP func(ctx context.Context) (netip.Addr, error)
	// Poll is how often the metagraph syncer looks at the best block.
	Poll time.Duration
	// RetryServe is how long to wait before trying serve_axon again after a failure.
	RetryServe time.Duration
}

// chainDefaults are the production chain options; tests override them.
var chainDefaults = chainOptions{DetectIP: detectPublicIP, Poll: 12 * time.Second, RetryServe: time.Minute}

// ipServices answer a GET with the caller's public IP as plain text (the SDK asks the same kind of
// services, bittensor/utils/networking.py).
var ipServices = []string{"https://checkip.amazonaws.com", "https://api.ipify.org", "https://icanhazip.com"}

// detectPublicIP asks ipServices in turn for the public IP.
func detectPublicIP(ctx context.Context) (netip.Addr, error) {
	var errs []error
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, u := range ipServices {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return netip.Addr{}, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("%s: status %d: %v", u, resp.StatusCode, err))
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(string(body)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("detect the public IP (give --external-ip instead): %w", errors.Join(errs...))
}

// localNetwork reports whether network is a local chain: the "local" preset or a plain ws:// URL.
// Loopback and unspecified axon IPs are allowed only there.
func localNetwork(network string) bool {
	return network == "local" || strings.HasPrefix(network, "ws://")
}

// checkAxonIP refuses IPs other machines cannot reach, unless the chain is local.
func checkAxonIP(network string, ip netip.Addr) error {
	if (ip.IsLoopback() || ip.IsUnspecified()) && !localNetwork(network) {
		return fmt.Errorf("external IP %s cannot be published on %s: validators could not reach it (give --external-ip with the public address; loopback is allowed only on local chains)", ip, network)
	}
	return nil
}

// axonIP converts an IP to serve_axon's (ip, ip_type): IPv4 as a 32-bit number, type 4; anything
// else (IPv4-mapped IPv6 included, as the SDK's netaddr reads it) as 128 bits, type 6.
func axonIP(ip netip.Addr) (scale.Uint128, uint8) {
	if ip.Is4() {
		b := ip.As4()
		return scale.Uint128{Lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}, 4
	}
	b := ip.As16()
	var hi, lo uint64
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return scale.Uint128{Hi: hi, Lo: lo}, 6
}

// axonAddr renders an on-chain axon as ip:port ("" when none was ever served).
func axonAddr(a neuron.AxonInfo) string {
	ip, ok := a.Addr()
	if !ok || (a.Port == 0 && a.IP == (scale.Uint128{})) {
		return ""
	}
	return netip.AddrPortFrom(ip, a.Port).String()
}

// dialChain connects to a --network value and reads the runtime.
func dialChain(ctx context.Context, network string, log *slog.Logger) (*client.Client, func(), error) {
	url, err := rpc.Endpoint(network)
	if err != nil {
		return nil, nil, fmt.Errorf("--network: %w", err)
	}
	tr, err := rpc.Dial(ctx, url, rpc.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s (%s): %w", network, url, err)
	}
	c, err := client.New(ctx, tr, client.Options{Logger: log})
	if err != nil {
		tr.Close()
		return nil, nil, fmt.Errorf("read the runtime of %s: %w", network, err)
	}
	return c, func() { tr.Close() }, nil
}

// dialBest connects to network, as the one-shot commands do, and pins a
// reader at its best block (whose number it returns).
func dialBest(ctx context.Context, network string) (chainReader, uint64, func(), error) {
	c, closeRPC, err := dialChain(ctx, network, slog.New(slog.DiscardHandler))
	if err != nil {
		return chainReader{}, 0, nil, err
	}
	h, err := c.Header(ctx, nil)
	if err != nil {
		closeRPC()
		return chainReader{}, 0, nil, fmt.Errorf("best block: %w", err)
	}
	at, err := c.BlockHash(ctx, h.Number)
	if err != nil {
		closeRPC()
		return chainReader{}, 0, nil, fmt.Errorf("best block: %w", err)
	}
	return chainReader{c: c, at: &at}, h.Number, closeRPC, nil
}

// chainReader reads SubtensorModule and System storage at one block.
type chainReader struct {
	c  *client.Client
	at *client.Hash
}

func (r chainReader) read(ctx context.Context, pallet, item string, keys ...[]byte) ([]byte, bool, error) {
	md := r.c.Runtime().Metadata
	k, err := storage.Key(md, pallet, item, keys...)
	if err != nil {
		return nil, false, err
	}
	v, ok, err := r.c.Storage(ctx, k, r.at)
	if err != nil {
		return nil, false, fmt.Errorf("read %s.%s: %w", pallet, item, err)
	}
	if !ok {
		e, err := md.StorageEntry(pallet, item)
		if err != nil {
			return nil, false, err
		}
		return e.Default, false, nil
	}
	return v, true, nil
}

// uid returns the hotkey's UID on netuid (Uids storage), and whether it is registered.
func (r chainReader) uid(ctx context.Context, netuid uint16, hotkey [32]byte) (uint16, bool, error) {
	v, ok, err := r.read(ctx, "SubtensorModule", "Uids", scale.AppendU16(nil, netuid), hotkey[:])
	if err != nil || !ok {
		return 0, false, err
	}
	d := scale.NewDecoder(v)
	uid := d.U16()
	return uid, true, d.Finish()
}

func (r chainReader) u64(ctx context.Context, item string, keys ...[]byte) (uint64, error) {
	v, _, err := r.read(ctx, "SubtensorModule", item, keys...)
	if err != nil {
		return 0, err
	}
	d := scale.NewDecoder(v)
	n := d.U64()
	if err := d.Finish(); err != nil {
		return 0, fmt.Errorf("decode %s: %w", item, err)
	}
	return n, nil
}

// subnetExists reads NetworksAdded(netuid).
func (r chainReader) subnetExists(ctx context.Context, netuid uint16) (bool, error) {
	v, _, err := r.read(ctx, "SubtensorModule", "NetworksAdded", scale.AppendU16(nil, netuid))
	if err != nil {
		return false, err
	}
	return len(v) == 1 && v[0] == 1, nil
}

// axon reads Axons(netuid, hotkey); the zero AxonInfo when none was served.
func (r chainReader) axon(ctx context.Context, netuid uint16, hotkey [32]byte) (neuron.AxonInfo, error) {
	v, ok, err := r.read(ctx, "SubtensorModule", "Axons", scale.AppendU16(nil, netuid), hotkey[:])
	if err != nil || !ok {
		return neuron.AxonInfo{}, err
	}
	return neuron.DecodeAxonInfo(v)
}

// freeBalance reads System.Account(account).free in rao.
func (r chainReader) freeBalance(ctx context.Context, account [32]byte) (uint64, error) {
	v, ok, err := r.read(ctx, "System", "Account", account[:])
	if err != nil || !ok {
		return 0, err
	}
	ai, err := neuron.DecodeAccountInfo(v)
	return ai.Free, err
}

// formatRao renders rao as a decimal amount with 9 places (τ or α units).
func formatRao(rao uint64) string {
	return fmt.Sprintf("%d.%09d", rao/raoPerTAO, rao%raoPerTAO)
}

// validNetuid checks --netuid for a chain command.
func validNetuid(n int) (uint16, error) {
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("--netuid %d: give the subnet number (0-65535)", n)
	}
	return uint16(n), nil
}

// chainNode is serve's link to the chain: it follows the subnet's metagraph, keeps the hotkey's
// axon published, and reports both for GET /v1/chain and the taominer_chain_* gauges.
type chainNode struct {
	log      *slog.Logger
	opts     chainOptions
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
	ax       *axon.Axon    // the node's axon (nil: none); set before the HTTP server starts

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

// startChain connects to cfg.Network, checks that hot is registered on cfg.Netuid and works out
// the axon address to publish. Run then follows the chain.
func startChain(ctx context.Context, cfg config.Serve, hot *wallet.Keypair, log *slog.Logger, opts chainOptions) (*chainNode, error) {
	if cfg.Netuid < 0 {
		return nil, errors.New("--network needs --netuid: the subnet to mine on")
	}
	netuid, err := validNetuid(cfg.Netuid)
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
	n := &chainNode{
		log: log.With("network", cfg.Network, "netuid", netuid), opts: opts, network: cfg.Network, endpoint: endpoint,
		netuid: netuid, hot: hot, hotSS58: hot.SS58(), uid: -1, synced: make(chan struct{}, 1),
		projectWake: make(chan struct{}, 1),
		want:        extrinsic.Axon{NetUID: netuid, Version: axonVersion, IP: ipNum, Port: uint16(port), IPType: ipType, Protocol: 4},
		wantAddr:    netip.AddrPortFrom(ip, uint16(port)).String(),
	}
	if n.c, n.closeRPC, err = dialChain(ctx, cfg.Network, log); err != nil {
		return nil, err
	}
	r := chainReader{c: n.c}
	exists, err := r.subnetExists(ctx, netuid)
	if err == nil && !exists {
		err = fmt.Errorf("subnet %d does not exist on %s", netuid, cfg.Network)
	}
	if err == nil {
		uid, ok, rerr := r.uid(ctx, netuid, hot.PublicKey())
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
func (n *chainNode) Close() { n.closeRPC() }

// Snapshot returns the latest metagraph, or nil before the first sync.
func (n *chainNode) Snapshot() *metagraph.Snapshot { return n.syncer.Current() }

// onSync updates the registration from a new snapshot and wakes the axon loop.
func (n *chainNode) onSync(s *metagraph.Snapshot) {
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
func (n *chainNode) Run(ctx context.Context) error {
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
func (n *chainNode) registered() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.uid < 0 {
		return fmt.Errorf("hotkey %s is not registered on subnet %d", n.hotSS58, n.netuid)
	}
	return nil
}

// projectLoop runs the Yuma projection for the hotkey after each metagraph sync. A failure is
// reported in GET /v1/chain and retried at the next sync.
func (n *chainNode) projectLoop(ctx context.Context) error {
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
			pr, err = project(ctx, n.c, s, nr.UID)
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
func (n *chainNode) axonLoop(ctx context.Context) error {
	return n.keepLoop(ctx, n.synced, n.ensureAxon)
}

// keepLoop runs ensure at start, on each wake and, while it reports not done, after the wait it
// asks for (0: RetryServe), until ctx ends.
func (n *chainNode) keepLoop(ctx context.Context, wake <-chan struct{}, ensure func(context.Context) (bool, time.Duration)) error {
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
func (n *chainNode) ensureAxon(ctx context.Context) (bool, time.Duration) {
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

func (n *chainNode) publishAxon(ctx context.Context) (bool, time.Duration, error) {
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
	r := chainReader{c: n.c, at: &hash}
	cur, err := r.axon(ctx, n.netuid, n.hot.PublicKey())
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
	limit, err := r.u64(ctx, "ServingRateLimit", scale.AppendU16(nil, n.netuid))
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
	n.log.Info("publishing the axon (serve_axon)", "axon", n.wantAddr, "on_chain", axonAddr(cur), "version", n.want.Version)
	block, err := n.c.SignAndSubmit(ctx, call, n.hot, client.SignOptions{})
	if err != nil {
		// A rate-limited serve (pool error 1010, Custom error 12 ServingRateLimitExceeded) is
		// retried like any failure, after RetryServe.
		return false, 0, fmt.Errorf("serve_axon: %w", err)
	}
	after, err := chainReader{c: n.c, at: &block}.axon(ctx, n.netuid, n.hot.PublicKey())
	if err != nil {
		return false, 0, fmt.Errorf("read the axon after serve_axon: %w", err)
	}
	n.mu.Lock()
	n.onChain = after
	n.mu.Unlock()
	if !sameAxon(after, n.want) {
		return false, 0, fmt.Errorf("serve_axon was included in block %s but the chain's axon is %s", block, axonAddr(after))
	}
	n.log.Info("axon published", "axon", n.wantAddr, "block", block)
	return true, 0, nil
}

// sameAxon reports whether the chain's axon already carries a's address, port and version.
func sameAxon(cur neuron.AxonInfo, a extrinsic.Axon) bool {
	return cur.IP == a.IP && cur.Port == a.Port && cur.IPType == a.IPType && cur.Version == a.Version && cur.Protocol == a.Protocol
}

// chainStatus is the body of GET /v1/chain.

// describeNeuron computes a neuron's figures from a snapshot.
func describeNeuron(s *metagraph.Snapshot, nr *metagraph.Neuron) *api.NeuronStatus {
	rank, miners := s.MinerRank(nr.UID)
	perTempo := float64(nr.Emission) / raoPerTAO
	out := &api.NeuronStatus{
		UID: nr.UID, StakeAlpha: float64(nr.Stake) / raoPerTAO, Incentive: nr.Incentive, Dividends: nr.Dividends,
		ValidatorPermit: nr.ValidatorPermit, Active: nr.Active,
		EmissionAlphaTempo: perTempo, EmissionAlphaDay: perTempo * s.EpochsPerDay(),
		Rank: rank, Miners: miners, LastUpdate: nr.LastUpdate,
	}
	if s.PriceKnown {
		tao := out.EmissionAlphaDay * s.MovingPrice
		out.EmissionTAODay = &tao
	}
	return out
}

// ChainStatus reports the node's chain state (server.ChainSource).
func (n *chainNode) ChainStatus(context.Context) (*api.ChainStatus, error) {
	n.mu.Lock()
	st := api.ChainStatus{
		Network: n.network, Endpoint: n.endpoint, Netuid: n.netuid, Hotkey: n.hotSS58, Registered: n.uid >= 0,
		Axon:   api.AxonPublication{Ours: n.wantAddr, Version: n.want.Version, OnChain: axonAddr(n.onChain), OnChainBlock: n.onChain.Block, Published: n.published},
		Errors: map[string]api.StatusError{},
	}
	if n.uid >= 0 {
		uid := n.uid
		st.UID = &uid
	}
	if n.lastServeErr != "" {
		st.Errors["axon"] = api.StatusError{Error: n.lastServeErr, At: n.lastServeAt}
	}
	st.Projection = n.projection
	if n.projectErr != "" {
		st.Errors["projection"] = api.StatusError{Error: n.projectErr, At: n.projectAt}
	}
	n.mu.Unlock()
	if at, err := n.syncer.LastError(); err != nil {
		st.Errors["metagraph"] = api.StatusError{Error: err.Error(), At: at}
	}
	if n.ax != nil {
		v := n.ax.Validators()
		st.Validators = &v
	}
	if n.commit != nil {
		cs := n.commit.Status()
		st.Commitment = &api.CommitmentStatus{Ours: cs.Ours, OnChain: cs.OnChain, OnChainBlock: cs.OnChainBlock,
			Published: cs.Published, Error: cs.Error, ErrorAt: cs.ErrorAt}
	}
	if s := n.Snapshot(); s != nil {
		st.Metagraph = &api.MetagraphInfo{Block: s.Block, SyncedAt: s.SyncedAt, Source: s.Source, Neurons: len(s.Neurons), Tempo: s.Tempo}
		if s.PriceKnown {
			p := s.MovingPrice
			st.Metagraph.MovingPrice = &p
		}
		if nr, ok := s.ByHotkey(n.hotSS58); ok {
			st.Neuron = describeNeuron(s, nr)
		}
	}
	return &st, nil
}

// collectors are the taominer_chain_* gauges, read from the current state at each scrape.
func (n *chainNode) collectors() []prometheus.Collector {
	labels := prometheus.Labels{"network": n.network, "netuid": fmt.Sprint(n.netuid)}
	mine := func(f func(*metagraph.Snapshot, *metagraph.Neuron) float64) func() float64 {
		return func() float64 {
			s := n.Snapshot()
			if nr, ok := s.ByHotkey(n.hotSS58); ok {
				return f(s, nr)
			}
			return 0
		}
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "taominer_chain_" + name, Help: help, ConstLabels: labels}, f)
	}
	return []prometheus.Collector{
		gauge("uid", "UID of the hotkey on the subnet; -1 when not registered.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return float64(n.uid)
		}),
		gauge("registered", "1 when the hotkey is registered on the subnet.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return b2f(n.uid >= 0)
		}),
		gauge("stake_alpha", "Alpha staked on the hotkey on the subnet (TotalHotkeyAlpha), in alpha.",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return float64(nr.Stake) / raoPerTAO })),
		gauge("incentive", "The hotkey's incentive on the subnet, 0 to 1.",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return nr.Incentive })),
		gauge("emission_alpha", "Alpha the hotkey earned in the subnet's last epoch (per tempo).",
			mine(func(_ *metagraph.Snapshot, nr *metagraph.Neuron) float64 { return float64(nr.Emission) / raoPerTAO })),
		gauge("projected_incentive", "The hotkey's incentive if the epoch ran at the last metagraph sync (Yuma run locally), 0 to 1.",
			n.projected(func(p *api.Projection) float64 { return p.Incentive })),
		gauge("projected_emission_alpha", "Alpha the hotkey would earn if the epoch ran at the last metagraph sync (Yuma run locally).",
			n.projected(func(p *api.Projection) float64 { return p.EmissionAlpha })),
		gauge("last_sync_block", "Block of the latest metagraph sync; 0 before the first.", func() float64 {
			if s := n.Snapshot(); s != nil {
				return float64(s.Block)
			}
			return 0
		}),
		gauge("axon_published", "1 when the chain's axon equals this node's address, port and version.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return b2f(n.published)
		}),
		gauge("commitment_published", "1 when the chain's commitment of the hotkey is --commit-endpoint (0 without it).", func() float64 {
			return b2f(n.commit != nil && n.commit.Published())
		}),
	}
}

// projected reads a figure of the latest projection (0 without one).
func (n *chainNode) projected(f func(*api.Projection) float64) func() float64 {
	return func() float64 {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.projection == nil {
			return 0
		}
		return f(n.projection)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// loadServeHotkey loads the hotkey serve signs with (no password: btcli writes hotkeys
// unencrypted).
func loadServeHotkey(cfg config.Serve) (*wallet.Keypair, error) {
	path, err := expandHome(cfg.WalletPath)
	if err != nil {
		return nil, err
	}
	w, err := wallet.Open(path, cfg.Wallet, cfg.Hotkey)
	if err != nil {
		return nil, err
	}
	kp, err := w.LoadHotkey()
	if err != nil {
		return nil, fmt.Errorf("hotkey %q of wallet %q: %w", cfg.Hotkey, cfg.Wallet, err)
	}
	return kp, nil
}

// attachChain is serve's chain wiring: offline without --network (said once, and it returns
// nil); otherwise it starts the chain node and adds its loop, closer, /v1/chain source and gauges
// to the node. The returned node's Snapshot is the metagraph for whoever needs stakes and permits
// (the axon).
func (n *node) attachChain(ctx context.Context, reg prometheus.Registerer, opts *server.Options) (*chainNode, error) {
	if n.cfg.Network == "" && n.cfg.CommitEndpoint != "" {
		return nil, errors.New("--commit-endpoint needs --network (and --netuid, --wallet): the commitment is published on chain")
	}
	if n.cfg.Network == "" {
		n.log.Info("offline: no --network given; serving without the chain (no registration check, no axon publishing, no metagraph)")
		return nil, nil
	}
	if n.cfg.Wallet == "" {
		return nil, errors.New("--network needs --wallet (and --hotkey): the hotkey registered on the subnet")
	}
	hot, err := loadServeHotkey(n.cfg)
	if err != nil {
		return nil, err
	}
	cn, err := startChain(ctx, n.cfg, hot, n.log, chainDefaults)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	if err := registerAll(reg, cn.collectors()); err != nil {
		cn.Close()
		return nil, err
	}
	opts.Chain = cn
	n.loops = append(n.loops, cn.Run)
	n.closers = append(n.closers, cn.Close)
	return cn, nil
}

// AxonStatus reports the axon's recent callers (server.AxonSource).
func (a *axonNode) AxonStatus(context.Context) (*api.AxonReport, error) {
	return &api.AxonReport{Hotkey: a.ax.Hotkey(), Addr: a.port.Addr(), Validators: a.ax.Validators()}, nil
}

// wireValidators shows the axon's recent callers, when it runs, in GET /v1/axon and in the
// validators section of GET /v1/chain (cn nil: offline). Call it after startAxon, before the HTTP
// server is built.
func (n *node) wireValidators(opts *server.Options, cn *chainNode) {
	if n.axon == nil {
		return
	}
	opts.Axon = n.axon
	if cn != nil {
		cn.ax = n.axon.ax
	}
}

func registerAll(reg prometheus.Registerer, cs []prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register chain metrics: %w", err)
		}
	}
	return nil
}

// parseTAO converts a decimal TAO amount ("1.5", "0.000000001") to rao exactly.
func parseTAO(s string) (uint64, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("%q is not an amount of TAO", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(raoPerTAO))
	if !r.IsInt() || !r.Num().IsUint64() {
		return 0, fmt.Errorf("%q: at most 9 decimals and below 2^64 rao", s)
	}
	return r.Num().Uint64(), nil
}

// hotkeyOf returns the public key of an SS58 address (from a wallet's pub file).
func hotkeyOf(addr string) ([32]byte, error) { return ss58.DecodeBittensor(addr) }
