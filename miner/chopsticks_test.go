package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/miner/internal/chaincmd"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/cli"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/chain/yuma"
	"github.com/taominer/taominer/internal/chopsticks"
	"github.com/taominer/taominer/miner/internal/config"
)

// chainSpecEnv names a subtensor raw chain spec; TestChopsticks runs only when it is set.
const chainSpecEnv = "TAOMINER_TEST_CHAIN_SPEC"

// chainWasmEnv may name a runtime wasm that replaces the chain spec's (chopsticks
// --wasm-override).
const chainWasmEnv = "TAOMINER_TEST_CHAIN_WASM"

// chopsticksBinEnv may name an installed chopsticks executable; without it the test installs
// chopsticks under .cache/chopsticks with npm.
const chopsticksBinEnv = "TAOMINER_TEST_CHOPSTICKS"

// localChain is a chopsticks node running the runtime of a raw chain spec, with a client.
type localChain struct {
	node *chopsticks.Node
	c    *client.Client
	md   *metadata.Metadata
}

func startLocalChain(t *testing.T, spec string) *localChain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := os.Getenv(chopsticksBinEnv)
	if bin == "" {
		var err error
		if bin, err = chopsticks.Install(ctx, filepath.Join("..", ".cache", "chopsticks")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := chopsticks.Start(ctx, chopsticks.Options{Bin: bin, ChainSpec: spec, WasmOverride: os.Getenv(chainWasmEnv), RuntimeLogLevel: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chopsticks output (tail):\n%s", tail(n.Log(), 6000))
		}
		n.Close()
	})
	c := chaintest.Connect(t, n.URL())
	return &localChain{node: n, c: c, md: c.Runtime().Metadata}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// key builds a storage key, failing the test when the runtime has no such item.
func (lc *localChain) key(t *testing.T, pallet, item string, keys ...[]byte) []byte {
	t.Helper()
	k, err := storage.Key(lc.md, pallet, item, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// optionalKey is key for items a runtime may not have (nil then).
func (lc *localChain) optionalKey(pallet, item string, keys ...[]byte) []byte {
	k, err := storage.Key(lc.md, pallet, item, keys...)
	if err != nil {
		return nil
	}
	return k
}

// read returns the raw value of a storage item at the best block (nil when absent).
func (lc *localChain) read(t *testing.T, pallet, item string, keys ...[]byte) []byte {
	t.Helper()
	v, _, err := lc.c.Storage(context.Background(), lc.key(t, pallet, item, keys...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// best is the best block's number.
func (lc *localChain) best(t *testing.T) uint64 {
	t.Helper()
	h, err := lc.c.Header(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return h.Number
}

// blocks builds n blocks, 10 per call so that each call stays well within the RPC call timeout
// (60 s) on a loaded machine.
func (lc *localChain) blocks(t *testing.T, n int) {
	t.Helper()
	for n > 0 {
		k := min(n, 10)
		if _, err := lc.node.NewBlocks(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// submit signs call with s, waits for inclusion and fails the test on any error.
func (lc *localChain) submit(t *testing.T, what string, call extrinsic.Call, err error, s extrinsic.Signer) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := lc.c.SignAndSubmit(ctx, call, s, client.SignOptions{}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fundedAccount is a System.Account value with free rao and one provider (subtensor's Balance
// is a u64, the flags a u128).
func fundedAccount(free uint64) []byte {
	b := scale.AppendU32(nil, 0) // nonce
	b = scale.AppendU32(b, 0)    // consumers
	b = scale.AppendU32(b, 1)    // providers
	b = scale.AppendU32(b, 0)    // sufficients
	b = scale.AppendU64(b, free)
	b = scale.AppendU64(b, 0)                              // reserved
	b = scale.AppendU64(b, 0)                              // frozen
	return scale.AppendU128(b, scale.Uint128{Hi: 1 << 63}) // flags (u128): the new holds/freezes logic
}

// devWallet writes wallet name under root with the coldkey cold (encrypted with password) and the
// hotkey hot.
func devWallet(t *testing.T, root, name string, cold, hot *wallet.Keypair, password string) {
	t.Helper()
	w, err := wallet.Open(root, name, "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetColdkey(cold, []byte(password), false); err != nil {
		t.Fatal(err)
	}
	if err := w.SetHotkey(hot, false); err != nil {
		t.Fatal(err)
	}
}

// TestChopsticks runs the miner against a real subtensor runtime: chopsticks executes the
// runtime wasm of the chain spec named by $TAOMINER_TEST_CHAIN_SPEC (genesis mode). The test
// funds dev accounts and shortens subnet 1's tempo with dev_setStorage, then: `miner register`
// for two miners and two validators (real Argon2 wallets, burned_register), `miner serve`
// publishing its axon (serve_axon) and syncing the metagraph, validators staking (add_stake) and
// setting weights that disagree (set_weights), and two forced epochs (dev_newBlock). Each epoch's
// stored terms must equal chain/yuma's epoch run on the state read just before it, and
// `miner status` must have projected the miner's incentive the chain then stored.
func TestChopsticks(t *testing.T) {
	spec := os.Getenv(chainSpecEnv)
	if spec == "" {
		t.Skipf("set %s to a subtensor raw chain spec (e.g. scripts/specs/raonet.json of opentensor/subtensor, spec 218) to run the miner against a real runtime in chopsticks", chainSpecEnv)
	}
	if _, err := os.Stat(spec); err != nil && !filepath.IsAbs(spec) {
		spec = filepath.Join("..", spec) // relative to the repository root
	}
	lc := startLocalChain(t, spec)
	ctx := context.Background()
	const netuid, tempo = 1, 12
	net := scale.AppendU16(nil, netuid)

	dev := func(uri string) *wallet.Keypair { return chainfixture.DevKey(t, uri) }
	alice, bob, charlie, dave := dev("//Alice"), dev("//Bob"), dev("//Charlie"), dev("//Dave")
	hot := map[string]*wallet.Keypair{
		"m1": dev("//Bob//m1"), "m2": dev("//Dave//m2"), "v1": dev("//Alice//v1"), "v2": dev("//Charlie//v2"),
	}
	cold := map[string]*wallet.Keypair{"m1": bob, "m2": dave, "v1": alice, "v2": charlie}

	// The test chain's configuration: funded coldkeys (and hotkeys, which sign set_weights), a
	// short tempo and no weights rate limit on subnet 1, and a liquid alpha pool for it (the
	// genesis pool holds 1 rao of alpha, so staking would buy nothing): 20 000 TAO against
	// 20 000 alpha.
	const tao = 1_000_000_000
	var kvs []chopsticks.KV
	for _, kp := range []*wallet.Keypair{alice, bob, charlie, dave, hot["v1"], hot["v2"]} {
		pub := kp.PublicKey()
		kvs = append(kvs, chopsticks.KV{Key: lc.key(t, "System", "Account", pub[:]), Value: fundedAccount(1_000_000 * tao)})
	}
	kvs = append(kvs,
		chopsticks.KV{Key: lc.key(t, "SubtensorModule", "Tempo", net), Value: scale.AppendU16(nil, tempo)},
		chopsticks.KV{Key: lc.key(t, "SubtensorModule", "WeightsSetRateLimit", net), Value: scale.AppendU64(nil, 0)},
		chopsticks.KV{Key: lc.key(t, "SubtensorModule", "SubnetTAO", net), Value: scale.AppendU64(nil, 20_000*tao)},
		chopsticks.KV{Key: lc.key(t, "SubtensorModule", "SubnetAlphaIn", net), Value: scale.AppendU64(nil, 20_000*tao)},
	)
	for _, item := range []string{"WeightsMinStake", "StakeThreshold"} {
		if k := lc.optionalKey("SubtensorModule", item); k != nil {
			kvs = append(kvs, chopsticks.KV{Key: k, Value: scale.AppendU64(nil, 0)})
		}
	}
	if err := lc.node.SetStorage(ctx, kvs...); err != nil {
		t.Fatal(err)
	}

	// m1 registers with `miner register`, as an operator does (real Argon2 wallet); the others
	// submit burned_register directly (each encrypted wallet costs seconds of Argon2).
	uids := map[string]uint16{}
	uidOf := func(name string) uint16 {
		pub := hot[name].PublicKey()
		v := lc.read(t, "SubtensorModule", "Uids", net, pub[:])
		if len(v) != 2 {
			t.Fatalf("%s not registered: Uids = %x", name, v)
		}
		return scale.NewDecoder(v).U16()
	}
	root := t.TempDir()
	const password = "chopsticks test"
	t.Setenv(cli.PasswordEnv, password)
	for _, name := range []string{"v1", "m1", "v2", "m2"} {
		if name != "m1" {
			call, err := extrinsic.BurnedRegister(lc.md, netuid, hot[name].PublicKey())
			lc.submit(t, "burned_register "+name, call, err, cold[name])
			uids[name] = uidOf(name)
			continue
		}
		devWallet(t, root, name, cold[name], hot[name], password)
		var out, errOut bytes.Buffer
		args := []string{"--network", lc.node.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", name, "--hotkey", "h", "--yes"}
		if code := registerCmd(ctx, args, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("miner register %s: exit %d\n%s\n%s", name, code, out.String(), errOut.String())
		}
		uids[name] = uidOf(name)
		if want := fmt.Sprintf("is UID %d on subnet 1", uids[name]); !strings.Contains(out.String(), want) {
			t.Fatalf("miner register output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("UIDs %v", uids)

	// miner serve for m1: registration check, serve_axon, metagraph sync, and its endpoint
	// published as a commitment (--commit-endpoint).
	cc := config.DefaultServe()
	cc.Network, cc.Netuid, cc.WalletPath, cc.Wallet, cc.Hotkey, cc.ExternalIP = lc.node.URL(), netuid, root, "m1", "h", "203.0.113.9"
	cc.CommitEndpoint = "http://203.0.113.9:8000"
	cc.GRPCAddr = ""
	tn := startChainNode(t, cc)
	waitChain(t, tn, 2*time.Minute, func(st api.ChainStatus) bool {
		return st.Axon.Published && st.Metagraph != nil && st.Neuron != nil && st.Commitment != nil && st.Commitment.Published
	})
	m1 := hot["m1"].PublicKey()
	if ax := lc.read(t, "SubtensorModule", "Axons", net, m1[:]); len(ax) == 0 {
		t.Fatal("Axons of m1 empty after miner serve published")
	}
	checkCommitments(t, lc, root, cc.CommitEndpoint, cold["m2"], hot["m2"], password)

	// Validators stake, an epoch hands out permits, they set weights that disagree: v1 (more
	// stake) prefers m1, v2 prefers m2.
	stake := func(name string, amount uint64) {
		call, err := extrinsic.AddStake(lc.md, hot[name].PublicKey(), netuid, amount)
		lc.submit(t, "add_stake "+name, call, err, cold[name])
	}
	stake("v1", 300*tao)
	stake("v2", 100*tao)
	lc.forceEpoch(t, netuid, tempo)
	setW := func(name string, w1, w2 uint16) {
		call, err := extrinsic.SetWeights(lc.md, netuid, []uint16{uids["m1"], uids["m2"]}, []uint16{w1, w2}, 0)
		lc.submit(t, "set_weights "+name, call, err, hot[name])
	}
	setW("v1", 50_000, 15_535)
	setW("v2", 10_000, 55_535)

	for epoch := 1; epoch <= 2; epoch++ {
		// miner status for m1 before the epoch: its projection reads the runtime's storage.
		var out, errOut bytes.Buffer
		args := []string{"--network", lc.node.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "m1", "--hotkey", "h",
			"--external-ip", "203.0.113.9", "--json"}
		if code := statusCmd(ctx, args, &out, &errOut); code != 0 {
			t.Fatalf("miner status: exit %d\n%s", code, errOut.String())
		}
		var rep chaincmd.StatusReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Neuron == nil || rep.Neuron.UID != uids["m1"] || rep.Axon.Matches == nil || !*rep.Axon.Matches {
			t.Fatalf("miner status: %s", out.String())
		}
		if rep.Projection == nil {
			t.Fatalf("miner status has no projection: %s", rep.ProjectionError)
		}
		if epoch == 1 {
			// The text an operator reads.
			out.Reset()
			if code := statusCmd(ctx, args[:len(args)-1], &out, &errOut); code != 0 {
				t.Fatalf("miner status: exit %d\n%s", code, errOut.String())
			}
			for _, want := range []string{fmt.Sprintf("registered  yes, UID %d", uids["m1"]), "axon        203.0.113.9:8091",
				": matches 203.0.113.9:8091", "projected   incentive", "spec 218 rules"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("miner status lacks %q:\n%s", want, out.String())
				}
			}
			t.Logf("miner status:\n%s", out.String())
		}

		e := lc.forceEpoch(t, netuid, tempo)
		if e != rep.Block+1 {
			// Only then is the projection's state the epoch's.
			t.Fatalf("epoch at block %d, status read block %d", e, rep.Block)
		}
		r := checkEpoch(t, lc, netuid, e, uids)
		if got := float64(r.Incentive[uids["m1"]]) / 65535; got != rep.Projection.Incentive {
			t.Errorf("epoch %d: miner status projected incentive %v for m1, the runtime stored %v", epoch, rep.Projection.Incentive, got)
		}
		t.Logf("epoch %d at block %d: miner status projected incentive %.6f for m1 (spec %d), as stored", epoch, e, rep.Projection.Incentive, rep.Projection.SpecVersion)
	}
}

// checkCommitments checks what serve --commit-endpoint stored for m1, then runs `miner commit`
// for m2 (its own wallet, so serve's keeper does not interfere): what the runtime cannot hold is
// refused before submitting with the limit named (at spec 218: no BigRaw); a first commitment is
// included; a second one within the rate limit is refused before submitting (spec 218: one per
// RateLimit blocks, CommitmentSetRateLimitExceeded) and included once it has passed; `--show`
// reads it back.
func checkCommitments(t *testing.T, lc *localChain, root, endpoint string, cold, hot *wallet.Keypair, password string) {
	t.Helper()
	ctx := context.Background()
	m1 := hotkeyPub(t, root, "m1")
	raw := lc.read(t, "Commitments", "CommitmentOf", scale.AppendU16(nil, 1), m1[:])
	reg, err := commitments.DecodeRegistration(raw)
	if err != nil || len(reg.Fields) != 1 || reg.Fields[0].Kind != commitments.Raw || string(reg.Fields[0].Bytes) != endpoint {
		t.Fatalf("CommitmentOf(1, m1) = %x: %+v, %v", raw, reg, err)
	}
	rules, err := commitments.ReadRules(lc.md)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spec %d: MaxFields %d, BigRaw %v, space limit %v, RateLimit %d; serve committed %q at block %d",
		rules.Spec, rules.MaxFields, rules.Kinds[commitments.BigRaw], rules.SpaceLimit, rules.RateLimit, endpoint, reg.Block)

	devWallet(t, root, "m2", cold, hot, password)
	commit := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		args = append([]string{"--network", lc.node.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "m2", "--hotkey", "h"}, args...)
		code := commitCmd(ctx, args, strings.NewReader(""), &out, &errOut)
		t.Logf("miner commit %s: exit %d\n%s%s", strings.Join(args[10:], " "), code, out.String(), errOut.String())
		return code, out.String(), errOut.String()
	}
	committed := func(data string) {
		t.Helper()
		if code, out, errOut := commit("--data", data); code != 0 || !strings.Contains(out, "committed: ") || !strings.Contains(out, fmt.Sprintf("%q", data)) {
			t.Fatalf("miner commit: exit %d\n%s%s", code, out, errOut)
		}
	}
	long := strings.Repeat("m", 200)
	if !rules.Kinds[commitments.BigRaw] {
		if code, _, errOut := commit("--data", long); code != 1 || !strings.Contains(errOut, "not submitted") || !strings.Contains(errOut, "has no BigRaw") {
			t.Errorf("miner commit of 200 bytes at spec %d: exit %d, %s", rules.Spec, code, errOut)
		}
	} else {
		committed(long)
	}
	const first, second = "v1|http://203.0.113.9:8000|kserve-v2", "v1|http://203.0.113.9:8001|kserve-v2"
	committed(first)
	if !rules.SpaceLimit {
		if code, out, errOut := commit("--data", second); code != 1 || !strings.Contains(errOut, "not submitted") || !strings.Contains(errOut, "CommitmentSetRateLimitExceeded") {
			t.Fatalf("miner commit within RateLimit: exit %d\n%s%s", code, out, errOut)
		}
		lc.blocks(t, int(rules.RateLimit)-1)
	}
	committed(second)
	code, out, errOut := commit("--show", "--json")
	var rep struct {
		Commitment *struct {
			Fields []struct{ Text *string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Commitment == nil || len(rep.Commitment.Fields) != 1 ||
		rep.Commitment.Fields[0].Text == nil || *rep.Commitment.Fields[0].Text != second {
		t.Fatalf("miner commit --show: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	commit("--show")
}

// hotkeyPub is the public key of hotkey "h" of wallet name under root.
func hotkeyPub(t *testing.T, root, name string) [32]byte {
	t.Helper()
	w, err := wallet.Open(root, name, "h")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := w.HotkeyPub()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ss58.DecodeBittensor(addr)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// forceEpoch builds blocks until subnet netuid has run an epoch (LastMechansimStepBlock is the
// best block) and returns that block's number.
func (lc *localChain) forceEpoch(t *testing.T, netuid uint16, tempo uint64) uint64 {
	t.Helper()
	net := scale.AppendU16(nil, netuid)
	for range tempo + 2 {
		lc.blocks(t, 1)
		b := lc.best(t)
		if v := lc.read(t, "SubtensorModule", "LastMechansimStepBlock", net); len(v) == 8 && scale.NewDecoder(v).U64() == b {
			return b
		}
	}
	t.Fatalf("no epoch of subnet %d within %d blocks", netuid, tempo+2)
	return 0
}

// checkEpoch compares what the runtime stored in the epoch of block e with chain/yuma's epoch
// run on the state of block e−1 as yuma.ReadEpoch reads it (hyperparameters, the runtime's epoch
// rules, stakes, permits, weights, bonds), and returns the chain's result.
func checkEpoch(t *testing.T, lc *localChain, netuid uint16, e uint64, uids map[string]uint16) *yuma.Result {
	t.Helper()
	ctx := context.Background()
	prev, err := lc.c.BlockHash(ctx, e-1)
	if err != nil {
		t.Fatal(err)
	}
	in, p, err := yuma.ReadEpoch(ctx, lc.c, netuid, prev)
	if err != nil {
		t.Fatal(err)
	}
	if in.CurrentBlock != e {
		t.Fatalf("ReadEpoch at block %d: CurrentBlock %d", e-1, in.CurrentBlock)
	}
	ours, err := yuma.Epoch(in, p)
	if err != nil {
		t.Fatal(err)
	}
	net := scale.AppendU16(nil, netuid)
	u16s := func(item string) []uint16 {
		d := scale.NewDecoder(lc.read(t, "SubtensorModule", item, net))
		out := make([]uint16, d.Len(2))
		for i := range out {
			out[i] = d.U16()
		}
		if err := d.Finish(); err != nil {
			t.Fatalf("%s: %v", item, err)
		}
		return out
	}
	bools := func(item string) []bool {
		d := scale.NewDecoder(lc.read(t, "SubtensorModule", item, net))
		out := make([]bool, d.Len(1))
		for i := range out {
			out[i] = d.Bool()
		}
		if err := d.Finish(); err != nil {
			t.Fatalf("%s: %v", item, err)
		}
		return out
	}
	chain := &yuma.Result{
		StakeWeight: u16s("StakeWeight"), Incentive: u16s("Incentive"), Dividends: u16s("Dividends"),
		Consensus: u16s("Consensus"), ValidatorTrust: u16s("ValidatorTrust"),
		Active: bools("Active"), NewValidatorPermit: bools("ValidatorPermit"),
	}
	type term struct {
		name        string
		chain, ours any
	}
	terms := []term{
		{"StakeWeight", chain.StakeWeight, ours.StakeWeight}, {"Incentive", chain.Incentive, ours.Incentive},
		{"Dividends", chain.Dividends, ours.Dividends}, {"Consensus", chain.Consensus, ours.Consensus},
		{"ValidatorTrust", chain.ValidatorTrust, ours.ValidatorTrust}, {"Active", chain.Active, ours.Active},
		{"ValidatorPermit", chain.NewValidatorPermit, ours.NewValidatorPermit},
	}
	if p.Rules.StoresRankTrust {
		chain.Rank, chain.Trust = u16s("Rank"), u16s("Trust")
		terms = append(terms, term{"Rank", chain.Rank, ours.Rank}, term{"Trust", chain.Trust, ours.Trust})
	}
	for i, row := range ours.Bonds {
		if row == nil {
			continue // not written by this runtime
		}
		b, err := yuma.DecodeEntries(lc.read(t, "SubtensorModule", "Bonds", net, scale.AppendU16(nil, uint16(i))))
		if err != nil {
			t.Fatal(err)
		}
		terms = append(terms, term{fmt.Sprintf("Bonds[%d]", i), b, row})
	}
	for _, tm := range terms {
		if fmt.Sprint(tm.chain) != fmt.Sprint(tm.ours) {
			t.Errorf("epoch at %d: %s: runtime %v, chain/yuma %v", e, tm.name, tm.chain, tm.ours)
		}
	}

	// Emission: floor(share_i × E) of one amount E. A runtime that accumulates emission over the
	// tempo distributes the pending amount ReadEpoch read; the mock runtime drains every block
	// what that block itself injects (not readable before it), so E is searched for instead:
	// one E must reproduce every uid's amount.
	d := scale.NewDecoder(lc.read(t, "SubtensorModule", "Emission", net))
	chain.Emission = make([]uint64, d.Len(8))
	var total uint64
	for i := range chain.Emission {
		chain.Emission[i] = d.U64()
		total += chain.Emission[i]
	}
	if fmt.Sprint(chain.Emission) != fmt.Sprint(ours.Emission) {
		var share []yuma.I32F32
		switch {
		case p.Rules.MockEpoch:
			share = ours.Stake
		default:
			t.Errorf("epoch at %d: Emission: runtime %v, chain/yuma %v (E = %d)", e, chain.Emission, ours.Emission, in.RaoEmission)
		}
		if share != nil && !emissionOf(share, chain.Emission, total) {
			t.Errorf("epoch at %d: Emission %v is floor(share × E) for no single E (shares %v)", e, chain.Emission, share)
		}
	}

	// What the Yuma epoch of that spec would have stored for the same state, shown beside the
	// mock's terms; it also proves the stored weights were read: m1, weighed up by the validator
	// with most stake, earns more than m2.
	if p.Rules.MockEpoch {
		yp := p
		yp.Rules.MockEpoch = false
		y, err := yuma.Epoch(in, yp)
		if err != nil {
			t.Fatal(err)
		}
		m1, m2 := uids["m1"], uids["m2"]
		if !(y.Incentive[m1] > y.Incentive[m2] && y.Incentive[m2] > 0) {
			t.Errorf("epoch at %d: the weights read give incentive %v (m1 uid %d, m2 uid %d)", e, y.Incentive, m1, m2)
		}
		t.Logf("epoch at %d: the runtime (spec %d) runs epoch_mock; its terms equal chain/yuma's mock: stake weights %v, permits %v, emission %v; Yuma on the same state would store incentive %v, dividends %v, consensus %v",
			e, p.Rules.SpecVersion, chain.StakeWeight, chain.NewValidatorPermit, chain.Emission, y.Incentive, y.Dividends, y.Consensus)
	} else {
		t.Logf("epoch at %d: the runtime's Yuma terms equal chain/yuma's: incentive %v dividends %v", e, chain.Incentive, chain.Dividends)
	}
	return chain
}

// emissionOf reports whether one amount E gives amounts[i] = floor(share_i × E) for every i
// (E near total / Σshare).
func emissionOf(share []yuma.I32F32, amounts []uint64, total uint64) bool {
	var sum float64
	for _, s := range share {
		sum += s.Float64()
	}
	if sum == 0 {
		return total == 0
	}
	guess := uint64(float64(total) / sum)
	slack := uint64(len(share)) + 2
	for E := guess - min(guess, slack); E <= guess+slack; E++ {
		ok := true
		for i, s := range share {
			if yuma.MulRao(s, E) != amounts[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
