package client_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"
	"go.uber.org/goleak"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// Compile-time checks: the rpc client is a Transport; the test signer is an extrinsic.Signer.
var (
	_ client.Transport = (*rpc.Client)(nil)
	_ extrinsic.Signer = (*testSigner)(nil)
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	block6852690 = "0xdb13c066e2c63969f140164fb3bfe7a0aaa7b71407fc0fe525d68e57329ef9d0"
	finney       = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03"
)

func connect(t *testing.T, n *chaintest.Node) (*client.Client, *rpc.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := rpc.Dial(ctx, n.URL(), rpc.Options{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	c, err := client.New(ctx, tr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

func mustHash(t *testing.T, s string) client.Hash {
	h, err := client.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestStartAndRead(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	ctx := context.Background()

	rt := c.Runtime()
	if rt.Version.SpecVersion != 343 || rt.Version.TransactionVersion != 1 || rt.Version.SpecName != "node-subtensor" {
		t.Errorf("runtime version = %+v", rt.Version)
	}
	if rt.Metadata.Version != 15 || rt.Genesis.String() != finney {
		t.Errorf("metadata v%d, genesis %v; want v15 (the runtime answers None for v16) and finney", rt.Metadata.Version, rt.Genesis)
	}
	if n.Count("state_getMetadata") != 0 {
		t.Error("fell back to state_getMetadata although v15 was offered")
	}

	h, err := c.Header(ctx, nil)
	if err != nil || h.Number != 6852690 {
		t.Fatalf("best header = %+v, %v", h, err)
	}
	bh, err := c.BlockHash(ctx, 6852690)
	if err != nil || bh.String() != block6852690 {
		t.Fatalf("BlockHash = %v, %v", bh, err)
	}

	// The recorded 1024-neuron metagraph reply, through state_call at that block.
	ns, err := c.NeuronsLite(ctx, 1, &bh)
	if err != nil || len(ns) != 1024 {
		t.Fatalf("neurons = %d, %v", len(ns), err)
	}
	if hex.EncodeToString(ns[0].Hotkey[:]) != "4a7a6cf22af0de8f0c3566ceb47c255da605cf9243f6c1a6433cc782fa610166" || ns[0].Axon.Port != 6028 {
		t.Errorf("neuron 0 = %x port %d", ns[0].Hotkey, ns[0].Axon.Port)
	}

	// Storage: an absent value (MechanismCountCurrent(1) at that block; the default 1 applies).
	key, err := storage.Key(rt.Metadata, "SubtensorModule", "MechanismCountCurrent", scale.AppendU16(nil, 1))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Storage(ctx, key, &bh); err != nil || ok {
		t.Errorf("MechanismCountCurrent = %x, %v, %v; want absent", v, ok, err)
	}
	// Uids(14, hotkey) = 29 (spec §3.1 worked example), key built from the metadata's hashers.
	hk := fixtures.Hex(t, "1a33474e4a857009da52aaa4080f176465f99c09763e03b9cd5ee038cec4093e")
	key, _ = storage.Key(rt.Metadata, "SubtensorModule", "Uids", scale.AppendU16(nil, 14), hk)
	v, ok, err := c.Storage(ctx, key, nil)
	if err != nil || !ok || scale.NewDecoder(v).U16() != 29 {
		t.Errorf("Uids(14, hk) = %x, %v, %v; want uid 29", v, ok, err)
	}
	// System.Account of the get_balance seed, at its block.
	acct := fixtures.Hex(t, "1257de87a71abb164403f7cb9ea65d0721f8bb89d8bd85754deceedd91e86053")
	key, _ = storage.Key(rt.Metadata, "System", "Account", acct)
	at := mustHash(t, "0x1b3f85dc8c83cada6d1782c955973a509a37c62af3d6ba29f5fd816aee37eb3b")
	v, ok, err = c.Storage(ctx, key, &at)
	if err != nil || !ok {
		t.Fatalf("System.Account = %v, %v", ok, err)
	}
	if ai, err := neuron.DecodeAccountInfo(v); err != nil || ai.Free != 7450117072 || ai.Nonce != 141 {
		t.Errorf("AccountInfo = %+v, %v", ai, err)
	}
}

func TestRuntimeUpgrade(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	ctx := context.Background()
	before := n.Count("state_call")
	if changed, err := c.Refresh(ctx); err != nil || changed {
		t.Fatalf("Refresh without upgrade = %v, %v", changed, err)
	}
	if n.Count("state_call") != before {
		t.Error("metadata re-read although the spec version did not change")
	}
	// The node now reports spec 344: the client must re-read the metadata.
	rv := map[string]any{"specName": "node-subtensor", "implName": "node-subtensor", "authoringVersion": 1, "specVersion": 344, "implVersion": 1, "transactionVersion": 1, "stateVersion": 1}
	b, _ := json.Marshal(map[string]any{"result": rv})
	n.Set(`state_getRuntimeVersion()`, string(b))
	changed, err := c.Refresh(ctx)
	if err != nil || !changed {
		t.Fatalf("Refresh after upgrade = %v, %v", changed, err)
	}
	if c.Runtime().Version.SpecVersion != 344 || n.Count("state_call") <= before {
		t.Errorf("after upgrade: spec %d, metadata state_calls %d (before %d)", c.Runtime().Version.SpecVersion, n.Count("state_call"), before)
	}
}

// TestMetadataV14Fallback: a runtime without Metadata_metadata_at_version (error 4003 "not
// found") is read with state_getMetadata.
func TestMetadataV14Fallback(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	n.Handle("state_call", func(params []json.RawMessage) (string, []string, bool, bool) {
		return `"error":{"code":4003,"message":"Client error: Execution failed: Other: Exported method Metadata_metadata_at_version is not found"}`, nil, false, false
	})
	c, _ := connect(t, n)
	if c.Runtime().Metadata.Version != 14 || n.Count("state_getMetadata") != 1 {
		t.Errorf("metadata v%d after %d state_getMetadata calls", c.Runtime().Metadata.Version, n.Count("state_getMetadata"))
	}
}

// TestError4003 covers both meanings of error 4003: a pruned block on a lite node (recorded in
// seed retry_archive: the first answer is the error, the retry succeeds) and a runtime API the
// runtime lacks (the caller falls back to storage).
func TestError4003(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	n.AddSeeds("retry_archive")
	c, _ := connect(t, n)
	ctx := context.Background()

	old := mustHash(t, "0x6c0da8a9dd5994d374d43210dc401f000b2fe02541bc2e7cd54719655d751a18")
	_, err := c.RuntimeVersionAt(ctx, &old)
	if !rpc.IsStateDiscarded(err) || rpc.IsRuntimeAPIUnavailable(err) {
		t.Fatalf("first answer = %v, want a 4003 state-discarded error", err)
	}
	if code, _ := rpc.Code(err); code != rpc.CodeStateClient {
		t.Errorf("code = %d", code)
	}
	rv, err := c.RuntimeVersionAt(ctx, &old) // the archive node's answer
	if err != nil || rv.SpecVersion != 273 {
		t.Fatalf("retry = %+v, %v", rv, err)
	}

	n.Handle("state_call", func(params []json.RawMessage) (string, []string, bool, bool) {
		return `"error":{"code":4003,"message":"Client error: Execution failed: Other: Exported method NeuronInfoRuntimeApi_get_neurons_lite is not found"}`, nil, false, false
	})
	_, err = c.StateCall(ctx, "NeuronInfoRuntimeApi_get_neurons_lite", scale.AppendU16(nil, 1), nil)
	if !rpc.IsRuntimeAPIUnavailable(err) || rpc.IsStateDiscarded(err) {
		t.Fatalf("missing runtime API error = %v", err)
	}
	// Fallback path: storage still answers.
	hk := fixtures.Hex(t, "1a33474e4a857009da52aaa4080f176465f99c09763e03b9cd5ee038cec4093e")
	key, _ := storage.Key(c.Runtime().Metadata, "SubtensorModule", "Uids", scale.AppendU16(nil, 14), hk)
	if _, ok, err := c.Storage(ctx, key, nil); err != nil || !ok {
		t.Fatalf("storage fallback = %v, %v", ok, err)
	}
}

// TestDropAndTimeout: the node drops the connection mid-call (the call fails with
// ErrConnectionLost, the next one reconnects), and a call the node never answers times out.
func TestDropAndTimeout(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	ctx := context.Background()
	var drops atomic.Int32
	drops.Store(1)
	n.Handle("chain_getBlockHash", func(params []json.RawMessage) (string, []string, bool, bool) {
		if drops.Add(-1) >= 0 {
			return "", nil, false, true
		}
		return `"result":"` + block6852690 + `"`, nil, false, false
	})
	_, err := c.BlockHash(ctx, 6852690)
	if !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("dropped call = %v, want ErrConnectionLost", err)
	}
	h, err := c.BlockHash(ctx, 6852690)
	if err != nil || h.String() != block6852690 {
		t.Fatalf("after reconnect = %v, %v", h, err)
	}
	if got := n.Conns(); got != 2 {
		t.Errorf("connections = %d, want 2", got)
	}

	n.Handle("chain_getFinalizedHead", func([]json.RawMessage) (string, []string, bool, bool) { return "", nil, true, false })
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.FinalizedHead(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered call = %v, want deadline exceeded", err)
	}
	if _, err := c.Header(ctx, nil); err != nil {
		t.Fatalf("call after timeout: %v", err)
	}
}

type testSigner struct {
	sk  *schnorrkel.SecretKey
	pub [32]byte
}

func newTestSigner(t *testing.T) *testSigner {
	var seed [32]byte
	copy(seed[:], "taominer client test signer seed")
	ms, err := schnorrkel.NewMiniSecretKeyFromRaw(seed)
	if err != nil {
		t.Fatal(err)
	}
	sk := ms.ExpandEd25519()
	pk, _ := sk.Public()
	return &testSigner{sk: sk, pub: pk.Encode()}
}

func (s *testSigner) PublicKey() [32]byte { return s.pub }

func (s *testSigner) Sign(msg []byte) ([64]byte, error) {
	sig, err := s.sk.Sign(schnorrkel.NewSigningContext([]byte("substrate"), msg))
	if err != nil {
		return [64]byte{}, err
	}
	return sig.Encode(), nil
}

func TestPoolRejection(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	n.ServeSigning(nil)
	n.Handle("author_submitAndWatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) {
		return `"error":{"code":1010,"message":"Invalid Transaction","data":"Custom error: 12"}`, nil, false, false
	})
	md := c.Runtime().Metadata
	call, err := extrinsic.ServeAxon(md, extrinsic.Axon{NetUID: 1, Version: 1, IP: scale.Uint128{Lo: 0x01020304}, Port: 8091, IPType: 4, Protocol: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SignAndSubmit(context.Background(), call, newTestSigner(t), client.SignOptions{})
	var pe *client.PoolError
	if !errors.As(err, &pe) || pe.Code != 1010 || pe.Name != "InvalidTransaction" || pe.Custom != 12 || pe.CustomName != "ServingRateLimitExceeded" {
		t.Fatalf("error = %v (%+v)", err, pe)
	}
	if !strings.Contains(err.Error(), "ServingRateLimitExceeded") {
		t.Errorf("message %q does not name the error", err)
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		t.Error("PoolError does not unwrap to *rpc.Error")
	}
}

func TestDispatchError(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	n.ServeSigning(nil)
	md := c.Runtime().Metadata
	submitted := n.IncludeInBlock(chaintest.Events(t, md, "NotEnoughBalanceToStake"))
	s := newTestSigner(t)
	call, err := extrinsic.BurnedRegister(md, 1, [32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	block, err := c.SignAndSubmit(context.Background(), call, s, client.SignOptions{})
	var de *metadata.DispatchError
	if !errors.As(err, &de) || de.Module == nil || de.Module.Pallet != "SubtensorModule" || de.Module.Name != "NotEnoughBalanceToStake" {
		t.Fatalf("error = %v", err)
	}
	if block.String() != "0x1111111111111111111111111111111111111111111111111111111111111111" {
		t.Errorf("block = %v", block)
	}
	// What was submitted: nonce 5, mortal era 128 born at the finalized head, our call, and a
	// signature that verifies.
	d, err := extrinsic.Decode(md, submitted())
	if err != nil {
		t.Fatal(err)
	}
	if d.Nonce != 5 || d.Era != scale.MortalEra(6852690, 128) || string(d.Call) != string(call) || d.Signer != s.pub {
		t.Errorf("submitted %+v", d)
	}
	genesis := mustHash(t, finney)
	payload, err := extrinsic.SigningPayload(md, call, extrinsic.Params{SpecVersion: 343, TransactionVersion: 1, GenesisHash: genesis,
		Era: d.Era, BlockHash: mustHash(t, block6852690), Nonce: 5})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := schnorrkel.NewPublicKey(s.pub)
	var sig schnorrkel.Signature
	sig.Decode(d.Signature)
	if ok, err := pk.Verify(&sig, schnorrkel.NewSigningContext([]byte("substrate"), extrinsic.SigningMessage(payload))); !ok || err != nil {
		t.Error("submitted signature does not verify")
	}
}

func TestInBlockSuccess(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	n.ServeSigning(nil)
	md := c.Runtime().Metadata
	n.IncludeInBlock(chaintest.Events(t, md, ""))
	call, _ := extrinsic.BurnedRegister(md, 1, [32]byte{9})
	if _, err := c.SignAndSubmit(context.Background(), call, newTestSigner(t), client.SignOptions{}); err != nil {
		t.Fatalf("SignAndSubmit = %v", err)
	}
	if n.Count("author_unwatchExtrinsic") != 1 {
		t.Errorf("unwatch called %d times", n.Count("author_unwatchExtrinsic"))
	}
}

func TestDropped(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	c, _ := connect(t, n)
	n.ServeSigning(nil)
	n.Handle("author_submitAndWatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) {
		return `"result":7`, []string{`{"jsonrpc":"2.0","method":"author_extrinsicUpdate","params":{"subscription":7,"result":"dropped"}}`}, false, false
	})
	n.Handle("author_unwatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) { return `"result":true`, nil, false, false })
	call, _ := extrinsic.BurnedRegister(c.Runtime().Metadata, 1, [32]byte{9})
	if _, err := c.SignAndSubmit(context.Background(), call, newTestSigner(t), client.SignOptions{}); !errors.Is(err, client.ErrTxNotIncluded) {
		t.Fatalf("error = %v, want ErrTxNotIncluded", err)
	}
}
