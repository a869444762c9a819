package metagraph_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/metagraph"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, n *chaintest.Node) *client.Client { return chaintest.Connect(t, n.URL()) }

const mechagraphKey = "state_call(SubnetInfoRuntimeApi_get_selective_mechagraph,"

// recordedMechagraph returns the recorded get_selective_mechagraph(1, 0, all fields) reply.
func recordedMechagraph(t *testing.T, n *chaintest.Node) string {
	all := scale.AppendCompact(nil, 74)
	for i := range 74 {
		all = scale.AppendU16(all, uint16(i))
	}
	key := mechagraphKey + "010000" + hex.EncodeToString(all) + "," + chaintest.Block6852690[2:] + ")"
	resp, ok := n.Recorded(key)
	if !ok {
		t.Fatalf("no recorded %s", key)
	}
	var obj struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(resp, &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Result
}

// newNode prepares the replay for a sync of subnet 1 at block 6852690: the recorded metagraph seed
// plus Tempo(1) = 99 (not recorded; a made-up value so the default is not mistaken for it) and
// the selective mechagraph answered with the recorded full reply (chaintest.CompleteMetagraph).
func newNode(t *testing.T) (*chaintest.Node, *client.Client, string) {
	n := chaintest.NewMetagraph(t)
	c := connect(t, n)
	n.CompleteMetagraph(c.Runtime().Metadata, 99)
	return n, c, recordedMechagraph(t, n)
}

type fixtureNeuron struct {
	UID         uint16 `json:"uid"`
	HotkeySS58  string `json:"hotkey_ss58"`
	ColdkeySS58 string `json:"coldkey_ss58"`
	Active      bool   `json:"active"`
	Stake       []any  `json:"stake"`
	Emission    uint64 `json:"emission"`
	Incentive   uint16 `json:"incentive"`
	Dividends   uint16 `json:"dividends"`
	LastUpdate  uint64 `json:"last_update"`
	Permit      bool   `json:"validator_permit"`
	Axon        struct {
		Block   uint64 `json:"block"`
		Version uint32 `json:"version"`
		IP      uint64 `json:"ip"`
		Port    uint16 `json:"port"`
		IPType  uint8  `json:"ip_type"`
	} `json:"axon_info"`
}

// TestSyncRuntimeAPI decodes the recorded 1024-neuron reply through the syncer and checks the
// first five neurons against the independently decoded fixture, plus whole-graph invariants.
func TestSyncRuntimeAPI(t *testing.T) {
	n, c, mech := newNode(t)
	now := time.Date(2025, 11, 18, 12, 0, 0, 0, time.UTC)
	s := metagraph.New(c, metagraph.Options{NetUID: 1, Now: func() time.Time { return now }})
	if s.Current() != nil {
		t.Fatal("snapshot before the first sync")
	}
	snap, err := s.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() != snap {
		t.Error("Current is not the synced snapshot")
	}
	if snap.Block != 6852690 || snap.BlockHash.String() != chaintest.Block6852690 || snap.NetUID != 1 || snap.Tempo != 99 ||
		snap.Source != metagraph.SourceRuntimeAPI || !snap.SyncedAt.Equal(now) || len(snap.Neurons) != 1024 {
		t.Fatalf("snapshot block %d %v netuid %d tempo %d source %s at %v, %d neurons", snap.Block, snap.BlockHash, snap.NetUID, snap.Tempo, snap.Source, snap.SyncedAt, len(snap.Neurons))
	}
	if got := s.Interval(); got != 99 {
		t.Errorf("Interval = %d, want the tempo 99", got)
	}

	var fx struct {
		Neurons []fixtureNeuron `json:"neurons"`
	}
	if err := json.Unmarshal(fixtures.Read(t, "neurons_lite_netuid1_block6852690_first5.json"), &fx); err != nil {
		t.Fatal(err)
	}
	for _, want := range fx.Neurons {
		got, ok := snap.ByUID(want.UID)
		if !ok {
			t.Fatalf("no uid %d", want.UID)
		}
		stake := uint64(want.Stake[0].([]any)[1].(float64))
		if got.Hotkey != want.HotkeySS58 || got.Coldkey != want.ColdkeySS58 || got.Active != want.Active || got.Stake != stake ||
			got.Emission != want.Emission || got.Incentive != float64(want.Incentive)/65535 || got.Dividends != float64(want.Dividends)/65535 ||
			got.LastUpdate != want.LastUpdate || got.ValidatorPermit != want.Permit ||
			got.Axon.Port != want.Axon.Port || got.Axon.IP.Lo != want.Axon.IP || got.Axon.Version != want.Axon.Version || got.Axon.Block != want.Axon.Block {
			t.Errorf("uid %d:\n got %+v\nwant %+v", want.UID, *got, want)
		}
		if byHk, ok := snap.ByHotkey(want.HotkeySS58); !ok || byHk != got {
			t.Errorf("ByHotkey(%s) = %v, %v", want.HotkeySS58, byHk, ok)
		}
	}
	if _, ok := snap.ByHotkey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"); ok {
		t.Error("ByHotkey found Alice, who is not in the recorded subnet")
	}
	if _, ok := snap.ByUID(1024); ok {
		t.Error("ByUID(1024) found a neuron")
	}

	// Whole graph: uids in order, incentives normalized to 1 (the chain's u16 rounding aside).
	var incentive float64
	permits := 0
	for i, nr := range snap.Neurons {
		if int(nr.UID) != i {
			t.Fatalf("Neurons[%d].UID = %d", i, nr.UID)
		}
		incentive += nr.Incentive
		if nr.ValidatorPermit {
			permits++
		}
	}
	if math.Abs(incentive-1) > 0.01 || permits == 0 || permits > 256 {
		t.Errorf("sum of incentives %.4f, %d validator permits", incentive, permits)
	}

	// The mechagraph reply decodes completely; its own hotkeys, incentives and emissions agree
	// with the neurons-lite reply (two independent runtime APIs at the same block).
	md := c.Runtime().Metadata
	m, _ := md.RuntimeAPIMethod("SubnetInfoRuntimeApi", "get_selective_mechagraph")
	d := scale.NewDecoder(fixtures.Hex(t, mech))
	v, err := md.DecodeValue(d, m.Output)
	if err != nil || d.Finish() != nil {
		t.Fatalf("mechagraph decode: %v, %v", err, d.Finish())
	}
	mg := v.(metadata.VariantValue).Fields.(map[string]metadata.Value)
	hotkeys := mg["hotkeys"].(metadata.VariantValue).Fields.([]metadata.Value)
	incentives := mg["incentives"].(metadata.VariantValue).Fields.([]metadata.Value)
	if len(hotkeys) != 1024 || len(incentives) != 1024 {
		t.Fatalf("mechagraph: %d hotkeys, %d incentives", len(hotkeys), len(incentives))
	}
	for i := range 1024 {
		hk := fmt.Sprintf("%x", hotkeys[i])
		if hk != hex.EncodeToString(snap.Neurons[i].HotkeyPub[:]) {
			t.Fatalf("uid %d: mechagraph hotkey %s, neurons-lite %x", i, hk, snap.Neurons[i].HotkeyPub)
		}
		if inc, _ := incentives[i].(uint64); float64(inc)/65535 != snap.Neurons[i].Incentive {
			t.Fatalf("uid %d: mechagraph incentive %v, neurons-lite %v", i, incentives[i], snap.Neurons[i].Incentive)
		}
	}
	// The moving price: I96F32 read from the same reply; subnet 1 alpha traded well below 1 TAO.
	if !snap.PriceKnown || snap.MovingPrice <= 0 || snap.MovingPrice >= 1 {
		t.Errorf("moving price %v known %v", snap.MovingPrice, snap.PriceKnown)
	}
	t.Logf("subnet 1 moving price at block 6852690: %.9f TAO/alpha", snap.MovingPrice)

	// Rank among miners: in this recording one neuron (UID 395, which also holds a validator
	// permit) has all the incentive; it ranks first among the miners (the neurons without a
	// permit, plus it), and a zero-incentive miner shares rank 2 with every other one.
	top, _ := snap.ByUID(395)
	if top.Incentive != 1 || !top.ValidatorPermit || !top.IsMiner() {
		t.Errorf("uid 395 = %+v", *top)
	}
	miners := 1024 - permits + 1
	if r, m := snap.MinerRank(395); r != 1 || m != miners {
		t.Errorf("MinerRank(395) = %d of %d, want 1 of %d", r, m, miners)
	}
	if r, m := snap.MinerRank(0); r != 2 || m != miners {
		t.Errorf("MinerRank(0) = %d of %d, want 2 of %d", r, m, miners)
	}
	if n.Count("state_getStorage") == 0 {
		t.Error("tempo not read from storage")
	}
}

// storageFromNeurons answers storage reads (state_getStorage, state_queryStorageAt) with values
// rebuilt from neurons, as a runtime without the neuron API would hold them.
func storageFromNeurons(t *testing.T, n *chaintest.Node, md *metadata.Metadata, ns []neuron.Lite, withTempo bool) {
	vals := map[string][]byte{}
	put := func(item string, v []byte, keys ...[]byte) {
		k, err := storage.Key(md, "SubtensorModule", item, keys...)
		if err != nil {
			t.Fatal(err)
		}
		vals[hex.EncodeToString(k)] = v
	}
	net := scale.AppendU16(nil, 1)
	put("SubnetworkN", scale.AppendU16(nil, uint16(len(ns))), net)
	if withTempo {
		put("Tempo", scale.AppendU16(nil, 99), net)
	}
	u16s := map[string][]byte{}
	for _, it := range []string{"Incentive", "Consensus", "Trust", "ValidatorTrust", "Dividends"} {
		u16s[it] = scale.AppendCompact(nil, uint64(len(ns)))
	}
	active := scale.AppendCompact(nil, uint64(len(ns)))
	permit := scale.AppendCompact(nil, uint64(len(ns)))
	emission := scale.AppendCompact(nil, uint64(len(ns)))
	lastUpdate := scale.AppendCompact(nil, uint64(len(ns)))
	for _, nr := range ns {
		uid := scale.AppendU16(nil, nr.UID)
		put("Keys", nr.Hotkey[:], net, uid)
		put("Owner", nr.Coldkey[:], nr.Hotkey[:])
		put("TotalHotkeyAlpha", scale.AppendU64(nil, nr.TotalStake()), nr.Hotkey[:], net)
		if nr.Axon != (neuron.AxonInfo{}) {
			a := nr.Axon
			b := scale.AppendU64(nil, a.Block)
			b = scale.AppendU32(b, a.Version)
			b = scale.AppendU128(b, a.IP)
			b = scale.AppendU16(b, a.Port)
			b = append(b, a.IPType, a.Protocol, a.Placeholder1, a.Placeholder2)
			put("Axons", b, net, nr.Hotkey[:])
		}
		u16s["Incentive"] = scale.AppendU16(u16s["Incentive"], nr.Incentive)
		u16s["Consensus"] = scale.AppendU16(u16s["Consensus"], nr.Consensus)
		u16s["Trust"] = scale.AppendU16(u16s["Trust"], nr.Trust)
		u16s["ValidatorTrust"] = scale.AppendU16(u16s["ValidatorTrust"], nr.ValidatorTrust)
		u16s["Dividends"] = scale.AppendU16(u16s["Dividends"], nr.Dividends)
		active = scale.AppendBool(active, nr.Active)
		permit = scale.AppendBool(permit, nr.ValidatorPermit)
		emission = scale.AppendU64(emission, nr.Emission)
		lastUpdate = scale.AppendU64(lastUpdate, nr.LastUpdate)
	}
	for it, v := range u16s {
		put(it, v, net)
	}
	put("Active", active, net)
	put("ValidatorPermit", permit, net)
	put("Emission", emission, net)
	put("LastUpdate", lastUpdate, net)

	lookup := func(p json.RawMessage) (string, bool) {
		var s string
		json.Unmarshal(p, &s)
		v, ok := vals[strings.TrimPrefix(s, "0x")]
		if !ok {
			return "null", false
		}
		return `"0x` + hex.EncodeToString(v) + `"`, true
	}
	n.Handle("state_getStorage", func(params []json.RawMessage) (string, []string, bool, bool) {
		if v, ok := lookup(params[0]); ok {
			return chaintest.Result(v)
		}
		return n.FromRecording("state_getStorage")(params)
	})
	n.Handle("state_queryStorageAt", func(params []json.RawMessage) (string, []string, bool, bool) {
		var keys []json.RawMessage
		json.Unmarshal(params[0], &keys)
		changes := make([]string, len(keys))
		for i, k := range keys {
			v, _ := lookup(k)
			changes[i] = "[" + string(k) + "," + v + "]"
		}
		return chaintest.Result(`[{"block":"` + chaintest.Block6852690 + `","changes":[` + strings.Join(changes, ",") + `]}]`)
	})
}

// TestSyncStorageFallback: a runtime without NeuronInfoRuntimeApi (error 4003 "not found") is
// read from storage; the storage values are the recorded neurons re-encoded, and the result must
// equal the runtime-API snapshot field for field. The moving price then comes from storage too.
func TestSyncStorageFallback(t *testing.T) {
	n, c, _ := newNode(t)
	ctx := context.Background()
	want, err := metagraph.New(c, metagraph.Options{NetUID: 1}).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.NeuronsLite(ctx, 1, &want.BlockHash)
	if err != nil {
		t.Fatal(err)
	}
	md := c.Runtime().Metadata
	storageFromNeurons(t, n, md, ns, true)
	// I96F32 0.25 = 0.25 * 2^32 in the low bits.
	priceKey, _ := storage.Key(md, "SubtensorModule", "SubnetMovingPrice", scale.AppendU16(nil, 1))
	n.SetStorage(priceKey, chaintest.Block6852690, scale.AppendU128(nil, scale.Uint128{Lo: 1 << 30}))
	var apiCalls atomic.Int32
	n.Handle("state_call", func(params []json.RawMessage) (string, []string, bool, bool) {
		var method string
		json.Unmarshal(params[0], &method)
		apiCalls.Add(1)
		return chaintest.Error(rpc.CodeStateClient, "Client error: Execution failed: Other: Exported method "+method+" is not found")
	})
	got, err := metagraph.New(c, metagraph.Options{NetUID: 1}).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != metagraph.SourceStorage || got.Tempo != 99 || len(got.Neurons) != len(want.Neurons) {
		t.Fatalf("fallback: source %s tempo %d, %d neurons", got.Source, got.Tempo, len(got.Neurons))
	}
	for i := range want.Neurons {
		if got.Neurons[i] != want.Neurons[i] {
			t.Fatalf("uid %d:\n storage %+v\n     api %+v", i, got.Neurons[i], want.Neurons[i])
		}
	}
	if !got.PriceKnown || got.MovingPrice != 0.25 {
		t.Errorf("storage moving price = %v (known %v), want 0.25", got.MovingPrice, got.PriceKnown)
	}
	if apiCalls.Load() < 3 { // neurons, mechagraph, metagraph
		t.Errorf("%d runtime API calls before falling back", apiCalls.Load())
	}
}

// TestRunEveryNBlocks: Run syncs at start and then only once the best block is Every blocks
// past the snapshot.
func TestRunEveryNBlocks(t *testing.T) {
	n, c, _ := newNode(t)
	var head atomic.Uint64
	head.Store(6852690)
	n.Handle("chain_getHeader", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Result(fmt.Sprintf(`{"parentHash":"0x%064x","number":"0x%x","stateRoot":"0x%064x","extrinsicsRoot":"0x%064x","digest":{"logs":[]}}`, 0, head.Load(), 0, 0))
	})
	// Every block number maps to the recorded block, so each sync reads the same data.
	n.Handle("chain_getBlockHash", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Result(`"` + chaintest.Block6852690 + `"`)
	})
	synced := make(chan *metagraph.Snapshot, 10)
	s := metagraph.New(c, metagraph.Options{NetUID: 1, Every: 3, Poll: 5 * time.Millisecond, OnSync: func(s *metagraph.Snapshot) { synced <- s }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	first := <-synced
	if first.Block != 6852690 {
		t.Fatalf("first sync at %d", first.Block)
	}
	head.Store(6852692) // 2 blocks: not yet
	time.Sleep(50 * time.Millisecond)
	select {
	case s := <-synced:
		t.Fatalf("synced again at block %d, before 3 blocks passed", s.Block)
	default:
	}
	head.Store(6852693)
	select {
	case s := <-synced:
		if s.Block != 6852693 {
			t.Errorf("second sync at %d", s.Block)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sync after 3 blocks")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if at, err := s.LastError(); err != nil || at.IsZero() {
		t.Errorf("LastError = %v at %v", err, at)
	}
}

// TestSyncError: a failing node leaves the previous snapshot in place and reports the error.
func TestSyncError(t *testing.T) {
	n, c, _ := newNode(t)
	s := metagraph.New(c, metagraph.Options{NetUID: 1})
	first, err := s.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.Handle("state_call", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Error(-32000, "node overloaded")
	})
	if _, err := s.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "node overloaded") {
		t.Fatalf("Sync = %v", err)
	}
	if s.Current() != first {
		t.Error("a failed sync replaced the snapshot")
	}
	if _, err := s.LastError(); err == nil {
		t.Error("LastError is nil after a failure")
	}
}
