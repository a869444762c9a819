package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/taominer/taominer/api"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
)

// chainFixture is the recorded finney node (subnet 1 at block 6852690, spec 343) with the
// storage answers a test adds.
type chainFixture struct {
	n  *chaintest.Node
	md *metadata.Metadata
}

func newChainFixture(t *testing.T) *chainFixture {
	t.Helper()
	f := &chainFixture{n: chaintest.NewMetagraph(t), md: chaintest.Metadata(t)}
	f.n.CompleteMetagraph(f.md, 360)
	return f
}

// set answers storage item (pallet SubtensorModule unless item is "System.X") at block at ("" =
// best block) with value (nil = absent).
func (f *chainFixture) set(t *testing.T, at, item string, value []byte, keys ...[]byte) {
	t.Helper()
	pallet := "SubtensorModule"
	if p, i, ok := strings.Cut(item, "."); ok {
		pallet, item = p, i
	}
	f.n.SetStorage(chaintest.StorageKey(t, f.md, pallet, item, keys...), at, value)
}

func net1() []byte { return scale.AppendU16(nil, 1) }

// devKey is a dev keypair (//Alice, //Bob, …).
func devKey(t *testing.T, uri string) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.FromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// writePubKeyfile writes a public-only keyfile (the coldkeypub.txt format) at path.
func writePubKeyfile(t *testing.T, path string, pub [32]byte) {
	t.Helper()
	h := "0x" + hex.EncodeToString(pub[:])
	b, _ := json.Marshal(map[string]string{"accountId": h, "publicKey": h, "ss58Address": ss58.EncodeBittensor(pub)})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pubWallet makes wallet "w" with hotkey "h" in a temporary folder: the hotkey from hot (with
// its secret) or, when hot is nil, public-only from hotPub; coldkeypub.txt from coldPub.
func pubWallet(t *testing.T, hot *wallet.Keypair, hotPub, coldPub [32]byte) string {
	t.Helper()
	root := t.TempDir()
	w, err := wallet.Open(root, "w", "h")
	if err != nil {
		t.Fatal(err)
	}
	if hot != nil {
		if err := w.SetHotkey(hot, false); err != nil {
			t.Fatal(err)
		}
	} else {
		writePubKeyfile(t, w.HotkeyPath(), hotPub)
	}
	writePubKeyfile(t, w.ColdkeyPubPath(), coldPub)
	return root
}

// chainConfig is a serve config following the replay node as a local (ws://) chain.
func chainConfig(f *chainFixture, root string) config.Serve {
	cfg := config.DefaultServe()
	cfg.Network, cfg.Netuid = f.n.URL(), 1
	cfg.WalletPath, cfg.Wallet, cfg.Hotkey = root, "w", "h"
	cfg.ExternalIP = "203.0.113.9"
	return cfg
}

// startChainNode serves row_sum with the chain options of cc, its axon on a free port published
// as 8091.
func startChainNode(t *testing.T, cc config.Serve) *testNode {
	t.Helper()
	repo := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(repo, "row_sum.onnx"))
	return startNode(t, repo, func(cfg *config.Serve) {
		cfg.Network, cfg.Netuid, cfg.WalletPath, cfg.Wallet, cfg.Hotkey, cfg.ExternalIP = cc.Network, cc.Netuid, cc.WalletPath, cc.Wallet, cc.Hotkey, cc.ExternalIP
		cfg.CommitEndpoint = cc.CommitEndpoint
		cfg.AxonPort, cfg.ExternalPort = 0, 8091
	})
}

// waitChain polls the node's GET /v1/chain (which must answer 200) until ok accepts it, failing
// after timeout.
func waitChain(t *testing.T, tn *testNode, timeout time.Duration, ok func(api.ChainStatus) bool) api.ChainStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := tn.do(t, http.MethodGet, "/v1/chain", nil, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET /v1/chain = %d %s", res.status, res.body)
		}
		var st api.ChainStatus
		if err := json.Unmarshal(res.body, &st); err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/chain never got there: %s", res.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// useTestChainOptions makes serve's chain node use testChainOptions until the test ends.
func useTestChainOptions(t *testing.T) {
	saved := chainDefaults
	chainDefaults = testChainOptions()
	t.Cleanup(func() { chainDefaults = saved })
}

func testChainOptions() chainOptions {
	return chainOptions{
		DetectIP:   func(context.Context) (netip.Addr, error) { return netip.Addr{}, errors.New("no detection in tests") },
		Poll:       20 * time.Millisecond,
		RetryServe: 50 * time.Millisecond,
	}
}

// axonBytes encodes an AxonInfo storage value.
func axonBytes(block uint64, version uint32, ip scale.Uint128, port uint16, ipType uint8) []byte {
	b := scale.AppendU64(nil, block)
	b = scale.AppendU32(b, version)
	b = scale.AppendU128(b, ip)
	b = scale.AppendU16(b, port)
	return append(b, ipType, 4, 0, 0)
}

// ours is the axon the chain tests publish: 203.0.113.9:8091.
func ours() []byte {
	return axonBytes(6852690, axonVersion, scale.Uint128{Lo: 203<<24 | 113<<8 | 9}, 8091, 4)
}

func TestChainAxonIP(t *testing.T) {
	big6, _ := new(big.Int).SetString("42540766411282592856903984951653826561", 10)
	tests := []struct {
		ip     string
		want   *big.Int
		ipType uint8
	}{
		{"1.2.3.4", big.NewInt(16909060), 4}, // wallet-and-axon §5.2
		{"2001:db8::1", big6, 6},             // verified value in §5.2
		{"::ffff:1.2.3.4", new(big.Int).SetUint64(0xffff01020304), 6},
		{"0.0.0.0", big.NewInt(0), 4},
	}
	for _, tt := range tests {
		got, typ := axonIP(netip.MustParseAddr(tt.ip))
		if got.Big().Cmp(tt.want) != 0 || typ != tt.ipType {
			t.Errorf("axonIP(%s) = %v type %d, want %v type %d", tt.ip, got, typ, tt.want, tt.ipType)
		}
	}
}

// TestChainRefusesLoopback: 127.0.0.1 and 0.0.0.0 are refused on finney and test before any
// connection is made, from --external-ip or from detection; local chains accept them.
func TestChainRefusesLoopback(t *testing.T) {
	tests := []struct {
		network, ip string
		ok          bool
	}{
		{"finney", "127.0.0.1", false},
		{"test", "0.0.0.0", false},
		{"finney", "::1", false},
		{"wss://lite.example:443", "127.0.0.1", false},
		{"local", "127.0.0.1", true},
		{"ws://127.0.0.1:9944", "0.0.0.0", true},
		{"finney", "203.0.113.9", true},
	}
	for _, tt := range tests {
		err := checkAxonIP(tt.network, netip.MustParseAddr(tt.ip))
		if (err == nil) != tt.ok {
			t.Errorf("checkAxonIP(%s, %s) = %v, want ok=%v", tt.network, tt.ip, err, tt.ok)
		}
	}
	hot := devKey(t, "//Bob")
	cfg := config.DefaultServe()
	cfg.Network, cfg.Netuid, cfg.Wallet, cfg.ExternalIP = "finney", 1, "w", "127.0.0.1"
	_, err := startChain(context.Background(), cfg, hot, slog.New(slog.DiscardHandler), testChainOptions())
	if err == nil || !strings.Contains(err.Error(), "cannot be published on finney") {
		t.Errorf("startChain(finney, 127.0.0.1) = %v", err)
	}
	// Detected loopback (a misconfigured host) is refused the same way.
	cfg.ExternalIP = ""
	opts := testChainOptions()
	opts.DetectIP = func(context.Context) (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil }
	if _, err := startChain(context.Background(), cfg, hot, slog.New(slog.DiscardHandler), opts); err == nil || !strings.Contains(err.Error(), "cannot be published") {
		t.Errorf("startChain(finney, detected 127.0.0.1) = %v", err)
	}
}

func TestChainStartErrors(t *testing.T) {
	f := newChainFixture(t)
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.set(t, "", "Uids", nil, net1(), bobKey[:])
	cfg := chainConfig(f, t.TempDir())
	log := slog.New(slog.DiscardHandler)
	_, err := startChain(context.Background(), cfg, bob, log, testChainOptions())
	if err == nil || !strings.Contains(err.Error(), "is not registered on subnet 1") || !strings.Contains(err.Error(), "miner register") {
		t.Errorf("unregistered hotkey: %v", err)
	}
	cfg.Netuid = -1
	if _, err := startChain(context.Background(), cfg, bob, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "--netuid") {
		t.Errorf("no netuid: %v", err)
	}
	cfg.Netuid = 1
	if _, err := startChain(context.Background(), cfg, nil, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "--wallet") {
		t.Errorf("no hotkey: %v", err)
	}
	f.set(t, "", "NetworksAdded", nil, scale.AppendU16(nil, 77))
	cfg.Netuid = 77
	if _, err := startChain(context.Background(), cfg, bob, log, testChainOptions()); err == nil || !strings.Contains(err.Error(), "subnet 77 does not exist") {
		t.Errorf("missing subnet: %v", err)
	}
}

// TestChainServeAxon covers serve_axon: nothing is sent when the chain already has our axon,
// it is sent (and checked back) when the chain's differs, the ServingRateLimit is waited out
// rather than hit, and a pool rejection ServingRateLimitExceeded leaves it unpublished for a retry.
func TestChainServeAxon(t *testing.T) {
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	old := axonBytes(6852000, 9011001, scale.Uint128{Lo: 3235789677}, 6028, 4)
	tests := []struct {
		name      string
		onChain   []byte
		pool      bool // the pool rejects with Custom error 12
		submitted bool
		published bool
		errText   string
	}{
		{"already published", ours(), false, false, true, ""},
		{"never served", nil, false, true, true, ""},
		{"differs", old, false, true, true, ""},
		{"rate limited", axonBytes(6852680, 9011001, scale.Uint128{Lo: 3235789677}, 6028, 4), false, false, false, "serving rate limit"},
		{"pool says rate limited", old, true, true, false, "ServingRateLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newChainFixture(t)
			f.set(t, "", "Uids", scale.AppendU16(nil, 7), net1(), bobKey[:])
			f.set(t, chaintest.Block6852690, "Axons", tt.onChain, net1(), bobKey[:])
			f.set(t, chaintest.Block6852690, "ServingRateLimit", scale.AppendU64(nil, 50), net1())
			f.n.ServeSigning(nil)
			submitted := f.n.IncludeInBlock(chaintest.Events(t, f.md, ""))
			f.set(t, chaintest.InBlock, "Axons", ours(), net1(), bobKey[:])
			if tt.pool {
				f.n.Handle("author_submitAndWatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) {
					return `"error":{"code":1010,"message":"Invalid Transaction","data":"Custom error: 12"}`, nil, false, false
				})
			}
			cn, err := startChain(context.Background(), chainConfig(f, t.TempDir()), bob, slog.New(slog.DiscardHandler), testChainOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer cn.Close()
			ok, retry := cn.ensureAxon(context.Background())
			if ok != tt.published {
				t.Errorf("published = %v, want %v", ok, tt.published)
			}
			if got := f.n.Count("author_submitAndWatchExtrinsic") > 0; got != tt.submitted {
				t.Errorf("submitted = %v, want %v", got, tt.submitted)
			}
			st, _ := cn.ChainStatus(context.Background())
			body, _ := json.Marshal(st)
			if tt.errText != "" && !strings.Contains(string(body), tt.errText) {
				t.Errorf("status lacks %q: %s", tt.errText, body)
			}
			if tt.name == "rate limited" && (retry < 30*12*time.Second || retry > 40*12*time.Second) {
				t.Errorf("retry in %v, want the 40 blocks left of the limit", retry)
			}
			if tt.submitted && !tt.pool {
				// The extrinsic is serve_axon with our address, signed by the hotkey.
				d, err := extrinsic.Decode(f.md, submitted())
				if err != nil {
					t.Fatal(err)
				}
				want, _ := extrinsic.ServeAxon(f.md, extrinsic.Axon{NetUID: 1, Version: axonVersion, IP: scale.Uint128{Lo: 203<<24 | 113<<8 | 9}, Port: 8091, IPType: 4, Protocol: 4})
				if !bytes.Equal(d.Call, want) || d.Signer != bob.PublicKey() || d.Nonce != 5 {
					t.Errorf("submitted call %x signer %x nonce %d; want %x by //Bob", d.Call, d.Signer, d.Nonce, []byte(want))
				}
			}
		})
	}
}

// TestChainServe runs `miner serve` against the replay node as a local chain: the registration
// check, the metagraph sync (the recorded 1024 neurons, with UID 7's hotkey swapped for the test
// hotkey //Bob), serve_axon publishing, GET /v1/chain and the taominer_chain_* gauges.
func TestChainServe(t *testing.T) {
	f := newChainFixture(t)
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	old := f.n.SwapHotkey(7, bob.PublicKey())
	// Two callers for the axon: UID 395 (a validator permit in the
	// recording) as //Charlie, UID 8 (none) as //Dave.
	charlie, dave := devKey(t, "//Charlie"), devKey(t, "//Dave")
	f.n.SwapHotkey(395, charlie.PublicKey())
	f.n.SwapHotkey(8, dave.PublicKey())
	f.set(t, "", "Uids", scale.AppendU16(nil, 7), net1(), bobKey[:])
	f.set(t, chaintest.Block6852690, "Axons", nil, net1(), bobKey[:])
	f.set(t, chaintest.Block6852690, "ServingRateLimit", scale.AppendU64(nil, 50), net1())
	f.n.ServeSigning(nil)
	f.n.IncludeInBlock(chaintest.Events(t, f.md, ""))
	f.set(t, chaintest.InBlock, "Axons", ours(), net1(), bobKey[:])
	useTestChainOptions(t)

	root := pubWallet(t, bob, [32]byte{}, devKey(t, "//Alice").PublicKey())
	cc := chainConfig(f, root)
	tn := startChainNode(t, cc)
	st := waitChain(t, tn, 20*time.Second, func(st api.ChainStatus) bool {
		return st.Metagraph != nil && st.Axon.Published && st.Axon.OnChain != "" && st.Neuron != nil
	})
	if st.Network != f.n.URL() || st.Netuid != 1 || st.Hotkey != bob.SS58() || !st.Registered || st.UID == nil || *st.UID != 7 ||
		st.Metagraph.Block != 6852690 || st.Metagraph.Neurons != 1024 || st.Metagraph.Source != "runtime_api" || st.Metagraph.Tempo != 360 ||
		st.Metagraph.MovingPrice == nil || st.Axon.Ours != "203.0.113.9:8091" || st.Axon.OnChain != "203.0.113.9:8091" || st.Neuron.UID != 7 {
		t.Errorf("status = %+v", st)
	}
	if ss58.EncodeBittensor(old) == bob.SS58() {
		t.Error("swap did not change the hotkey")
	}
	// The axon admits callers by the synced metagraph: a validator is
	// served, a registered hotkey without a permit and an unknown one are not.
	_, port, _ := strings.Cut(tn.n.AxonAddr(), "]:")
	if port == "" {
		_, port, _ = strings.Cut(tn.n.AxonAddr(), ":")
	}
	for _, tc := range []struct {
		caller *wallet.Keypair
		status int
		msg    string
	}{
		{charlie, http.StatusOK, "Success"},
		{dave, http.StatusForbidden, "Non-validator hotkey"},
		{devKey(t, "//Eve"), http.StatusForbidden, "Unrecognized hotkey"},
	} {
		c, err := dendrite.New(tc.caller)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Call(context.Background(), dendrite.Target{Addr: "127.0.0.1:" + port, Hotkey: bob.SS58()}, rowSumSynapse())
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.status || !strings.Contains(r.Message, tc.msg) {
			t.Errorf("axon call by %s: %d %q, want %d %q", tc.caller.SS58(), r.Status, r.Message, tc.status, tc.msg)
		}
	}
	// GET /v1/chain lists those calls, newest first, with the callers' UIDs.
	st = api.ChainStatus{}
	if err := json.Unmarshal(tn.do(t, http.MethodGet, "/v1/chain", nil, nil).body, &st); err != nil || st.Validators == nil {
		t.Fatalf("GET /v1/chain validators: %v %+v", err, st.Validators)
	}
	if rec := st.Validators.Recent; len(rec) != 3 || rec[0].UID != nil || rec[1].UID == nil || *rec[1].UID != 8 ||
		rec[1].Reason != "no_validator_permit" || rec[2].UID == nil || *rec[2].UID != 395 || rec[2].Status != 200 {
		t.Errorf("validators.recent = %+v", rec)
	}
	metrics := string(tn.do(t, http.MethodGet, "/metrics", nil, nil).body)
	for _, want := range []string{
		`taominer_chain_uid{netuid="1",network="` + f.n.URL() + `"} 7`,
		`taominer_chain_registered{netuid="1",network="` + f.n.URL() + `"} 1`,
		`taominer_chain_axon_published{netuid="1",network="` + f.n.URL() + `"} 1`,
		`taominer_chain_last_sync_block{netuid="1",network="` + f.n.URL() + `"} 6.85269e+06`,
		`taominer_chain_stake_alpha{`, `taominer_chain_incentive{`, `taominer_chain_emission_alpha{`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestChainOffline: without --network the node says so once and GET /v1/chain is a 404.
func TestChainOffline(t *testing.T) {
	var logs bytes.Buffer
	n := &node{log: slog.New(slog.NewTextHandler(&logs, nil)), cfg: config.DefaultServe()}
	var opts server.Options
	if cn, err := n.attachChain(context.Background(), nil, &opts); err != nil || cn != nil || opts.Chain != nil || len(n.loops) != 0 {
		t.Fatalf("attachChain offline = %v, %v, chain %v, %d loops", cn, err, opts.Chain, len(n.loops))
	}
	if c := strings.Count(logs.String(), "offline"); c != 1 {
		t.Errorf("offline said %d times: %s", c, logs.String())
	}
	n.cfg.Network = "test"
	if _, err := n.attachChain(context.Background(), nil, &opts); err == nil || !strings.Contains(err.Error(), "--wallet") {
		t.Errorf("--network without --wallet: %v", err)
	}

	tn := startNode(t, t.TempDir(), nil)
	res := tn.do(t, http.MethodGet, "/v1/chain", nil, nil)
	if res.status != http.StatusNotFound || !strings.Contains(string(res.body), "offline") {
		t.Errorf("GET /v1/chain offline = %d %s", res.status, res.body)
	}
}

// accountInfo encodes a System.Account value with the given free balance.
func accountInfo(free uint64) []byte {
	b := make([]byte, 16)
	b = scale.AppendU64(b, free)
	b = scale.AppendU64(b, 0)
	b = scale.AppendU64(b, 0)
	return scale.AppendU128(b, scale.Uint128{})
}
