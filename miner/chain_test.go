package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/chainnode"

	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/api/server"
	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/modeltest"
)

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

// startChainNode serves row_sum with the chain options of cc and testChainOptions' timings,
// its axon on a free port published as 8091.
func startChainNode(t *testing.T, cc config.Serve) *testNode {
	t.Helper()
	repo := t.TempDir()
	copyFile(t, modeltest.Path(t, "row_sum.onnx"), filepath.Join(repo, "row_sum.onnx"))
	opts := testChainOptions()
	return startNodeWith(t, repo, func(cfg *config.Serve) {
		cfg.Network, cfg.Netuid, cfg.WalletPath, cfg.Wallet, cfg.Hotkey, cfg.ExternalIP = cc.Network, cc.Netuid, cc.WalletPath, cc.Wallet, cc.Hotkey, cc.ExternalIP
		cfg.CommitEndpoint = cc.CommitEndpoint
		cfg.AxonPort, cfg.ExternalPort = 0, 8091
	}, nodeOptions{chain: &opts})
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

func testChainOptions() chainnode.Options {
	return chainnode.Options{
		DetectIP:   func(context.Context) (netip.Addr, error) { return netip.Addr{}, errors.New("no detection in tests") },
		Poll:       20 * time.Millisecond,
		RetryServe: 50 * time.Millisecond,
	}
}

// TestChainRefusesLoopback: 127.0.0.1 is refused on finney before any connection is made, from
// --external-ip or from detection (chainnode's TestAxonIPReachable has the table).
func TestChainRefusesLoopback(t *testing.T) {
	hot := chainfixture.DevKey(t, "//Bob")
	cfg := config.DefaultServe()
	cfg.Network, cfg.Netuid, cfg.Wallet, cfg.ExternalIP = "finney", 1, "w", "127.0.0.1"
	_, err := chainnode.Start(context.Background(), cfg, hot, slog.New(slog.DiscardHandler), testChainOptions())
	if err == nil || !strings.Contains(err.Error(), "cannot be published on finney") {
		t.Errorf("chainnode.Start(finney, 127.0.0.1) = %v", err)
	}
	// Detected loopback (a misconfigured host) is refused the same way.
	cfg.ExternalIP = ""
	opts := testChainOptions()
	opts.DetectIP = func(context.Context) (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil }
	if _, err := chainnode.Start(context.Background(), cfg, hot, slog.New(slog.DiscardHandler), opts); err == nil || !strings.Contains(err.Error(), "cannot be published") {
		t.Errorf("chainnode.Start(finney, detected 127.0.0.1) = %v", err)
	}
}

// TestChainServe runs `miner serve` against the replay node as a local chain: the registration
// check, the metagraph sync (the recorded 1024 neurons, with UID 7's hotkey swapped for the test
// hotkey //Bob), serve_axon publishing, GET /v1/chain and the taominer_chain_* gauges.
func TestChainServe(t *testing.T) {
	f := chainfixture.New(t)
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	old := f.N.SwapHotkey(7, bob.PublicKey())
	// Two callers for the axon: UID 395 (a validator permit in the
	// recording) as //Charlie, UID 8 (none) as //Dave.
	charlie, dave := chainfixture.DevKey(t, "//Charlie"), chainfixture.DevKey(t, "//Dave")
	f.N.SwapHotkey(395, charlie.PublicKey())
	f.N.SwapHotkey(8, dave.PublicKey())
	f.Set(t, "", "Uids", scale.AppendU16(nil, 7), chainfixture.Net1(), bobKey[:])
	f.Set(t, chaintest.Block6852690, "Axons", nil, chainfixture.Net1(), bobKey[:])
	f.Set(t, chaintest.Block6852690, "ServingRateLimit", scale.AppendU64(nil, 50), chainfixture.Net1())
	f.N.ServeSigning(nil)
	f.N.IncludeInBlock(chaintest.Events(t, f.MD, ""))
	f.Set(t, chaintest.InBlock, "Axons", chainfixture.Ours(), chainfixture.Net1(), bobKey[:])

	root := pubWallet(t, bob, [32]byte{}, chainfixture.DevKey(t, "//Alice").PublicKey())
	cc := f.Config(root)
	tn := startChainNode(t, cc)
	st := waitChain(t, tn, 20*time.Second, func(st api.ChainStatus) bool {
		return st.Metagraph != nil && st.Axon.Published && st.Axon.OnChain != "" && st.Neuron != nil
	})
	if st.Network != f.N.URL() || st.Netuid != 1 || st.Hotkey != bob.SS58() || !st.Registered || st.UID == nil || *st.UID != 7 ||
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
		{chainfixture.DevKey(t, "//Eve"), http.StatusForbidden, "Unrecognized hotkey"},
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
		`taominer_chain_uid{netuid="1",network="` + f.N.URL() + `"} 7`,
		`taominer_chain_registered{netuid="1",network="` + f.N.URL() + `"} 1`,
		`taominer_chain_axon_published{netuid="1",network="` + f.N.URL() + `"} 1`,
		`taominer_chain_last_sync_block{netuid="1",network="` + f.N.URL() + `"} 6.85269e+06`,
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
