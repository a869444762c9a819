package yuma

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// fakeStorage is SubtensorModule storage served by a replay node's state_queryStorageAt.
type fakeStorage struct {
	t      *testing.T
	md     *metadata.Metadata
	values map[string][]byte
}

func (s *fakeStorage) put(item string, v []byte, parts ...[]byte) {
	s.t.Helper()
	k, err := storage.Key(s.md, "SubtensorModule", item, parts...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.values[hex.EncodeToString(k)] = v
}

// serve answers state_queryStorageAt from the values (absent keys: null) at block hash.
func (s *fakeStorage) serve(n *chaintest.Node, hash string) { n.ServeStorageAt(hash, s.values) }

func connect(t *testing.T, n *chaintest.Node) *client.Client { return chaintest.Connect(t, n.URL()) }

const testHash = "0x1111111111111111111111111111111111111111111111111111111111111111"

// specNode is a node running the runtime of a metadata fixture (served as state_getMetadata,
// metadata_at_version unavailable) with spec version spec, whose block testHash is number block.
func specNode(t *testing.T, blob string, spec uint32, block uint64) (*client.Client, *fakeStorage) {
	t.Helper()
	c, _, s := specNodeWithNode(t, blob, spec, block)
	return c, s
}

// specNodeWithNode is specNode that also returns the node.
func specNodeWithNode(t *testing.T, blob string, spec uint32, block uint64) (*client.Client, *chaintest.Node, *fakeStorage) {
	t.Helper()
	md, err := metadata.Decode(fixtures.MetadataBlob(t, blob))
	if err != nil {
		t.Fatal(err)
	}
	n := chaintest.NewReplay(t)
	n.Handle("state_call", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Error(4003, "Exported method Metadata_metadata_at_version is not found")
	})
	n.Handle("state_getMetadata", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Result(`"0x` + hex.EncodeToString(fixtures.MetadataBlob(t, blob)) + `"`)
	})
	n.Handle("state_getRuntimeVersion", func([]json.RawMessage) (string, []string, bool, bool) {
		return chaintest.Result(fmt.Sprintf(`{"specName":"node-subtensor","implName":"node-subtensor","authoringVersion":1,"specVersion":%d,"implVersion":1,"transactionVersion":1,"stateVersion":1}`, spec))
	})
	n.Handle("chain_getHeader", func(params []json.RawMessage) (string, []string, bool, bool) {
		if len(params) == 0 || !strings.Contains(string(params[0]), testHash[2:]) {
			return chaintest.Result("null")
		}
		return chaintest.Result(fmt.Sprintf(`{"parentHash":"%s","number":"0x%x","stateRoot":"%s","extrinsicsRoot":"%s","digest":{"logs":[]}}`,
			testHash, block, testHash, testHash))
	})
	s := &fakeStorage{t: t, md: md, values: map[string][]byte{}}
	s.serve(n, testHash)
	c := connect(t, n)
	if got := c.Runtime().Version.SpecVersion; got != spec {
		t.Fatalf("spec %d, want %d", got, spec)
	}
	return c, n, s
}

func hotkey(i byte) [32]byte {
	var k [32]byte
	for j := range k {
		k[j] = i
	}
	return k
}

func row(es ...Entry) []byte {
	b := scale.AppendCompact(nil, uint64(len(es)))
	for _, e := range es {
		b = scale.AppendU16(scale.AppendU16(b, e.UID), e.Value)
	}
	return b
}

func u64s(vs ...uint64) []byte {
	b := scale.AppendCompact(nil, uint64(len(vs)))
	for _, v := range vs {
		b = scale.AppendU64(b, v)
	}
	return b
}

func bools(vs ...bool) []byte {
	b := scale.AppendCompact(nil, uint64(len(vs)))
	for _, v := range vs {
		b = scale.AppendBool(b, v)
	}
	return b
}

// putSubnet stores a three-neuron subnet 1: uid 2 (the owner's hotkey) and uid 0 validate, uid 1
// mines.
func putSubnet(s *fakeStorage) {
	net := scale.AppendU16(nil, 1)
	s.put("SubnetworkN", scale.AppendU16(nil, 3), net)
	s.put("LastUpdate", u64s(990, 10, 995), net)
	s.put("ValidatorPermit", bools(true, false, true), net)
	owner := hotkey(3)
	s.put("SubnetOwnerHotkey", owner[:], net)
	s.put("LastMechansimStepBlock", scale.AppendU64(nil, 900), net)
	for uid, st := range []struct{ alpha, tao, reg uint64 }{{1_000, 5_000, 5}, {0, 0, 500}, {3_000, 0, 7}} {
		u := scale.AppendU16(nil, uint16(uid))
		hk := hotkey(byte(uid + 1))
		s.put("Keys", hk[:], net, u)
		s.put("BlockAtRegistration", scale.AppendU64(nil, st.reg), net, u)
		if st.alpha != 0 {
			s.put("TotalHotkeyAlpha", scale.AppendU64(nil, st.alpha), hk[:], net)
		}
		if st.tao != 0 {
			s.put("TotalHotkeyAlpha", scale.AppendU64(nil, st.tao), hk[:], scale.AppendU16(nil, 0))
		}
	}
	s.put("Weights", row(Entry{1, 65535}), net, scale.AppendU16(nil, 0))
	s.put("Weights", row(Entry{1, 65535}, Entry{2, 100}), net, scale.AppendU16(nil, 2))
	s.put("Bonds", row(Entry{1, 40_000}), net, scale.AppendU16(nil, 2))
}

// checkSubnet checks what putSubnet stored.
func checkSubnet(t *testing.T, in Input, p Params) {
	t.Helper()
	if in.N != 3 || in.CurrentBlock != 1001 || in.LastMechanismStepBlock != 900 ||
		fmt.Sprint(in.LastUpdate) != "[990 10 995]" || fmt.Sprint(in.ValidatorPermit) != "[true false true]" ||
		fmt.Sprint(in.BlockAtRegistration) != "[5 500 7]" || fmt.Sprint(in.AlphaStake) != "[1000 0 3000]" ||
		fmt.Sprint(in.TaoStake) != "[5000 0 0]" {
		t.Errorf("input %+v", in)
	}
	if len(in.Hotkeys) != 3 || *in.Hotkeys[1] != hotkey(2) || p.OwnerUID != 2 {
		t.Errorf("hotkeys %v, owner uid %d", in.Hotkeys, p.OwnerUID)
	}
	if fmt.Sprint(in.Weights) != "[[{1 65535}] [] [{1 65535} {2 100}]]" || fmt.Sprint(in.Bonds) != "[[] [] [{1 40000}]]" {
		t.Errorf("weights %v bonds %v", in.Weights, in.Bonds)
	}
}

// TestReadEpochSpec218: the raonet spec-218 runtime (metadata with LocalStake, TaoWeight per
// subnet, no BondsPenalty, Yuma3On or StakeThreshold) read with metadata defaults where keys are
// absent, and its epoch is epoch_mock.
func TestReadEpochSpec218(t *testing.T) {
	c, s := specNode(t, "metadata-spec218-v14.scale", 218, 1000)
	putSubnet(s)
	net := scale.AppendU16(nil, 1)
	s.put("TaoWeight", scale.AppendU64(nil, 1<<63), net)
	s.put("PendingEmission", scale.AppendU64(nil, 1_000_000_000), net)
	hash, _ := client.ParseHash(testHash)
	in, p, err := ReadEpoch(context.Background(), c, 1, hash)
	if err != nil {
		t.Fatal(err)
	}
	checkSubnet(t, in, p)
	want := RulesFor(218)
	want.MockEpoch, want.ClippedBonds, want.NoStakeThreshold, want.OriginalYumaOnly = true, true, true, true
	if p.Rules != want || !p.Rules.TopKWithZeros || !p.Rules.BondsMaskByUpdate || !p.Rules.StoresRankTrust {
		t.Errorf("rules %+v", p.Rules)
	}
	// Metadata defaults: Kappa ff7f, Tempo 1e00, ActivityCutoff 8813, MaxAllowedValidators 8000,
	// BondsMovingAverage 301b0f…, AlphaValues 33b3 66e6, SubnetOwnerCut 0a17 (5898).
	if p.Kappa != 32_767 || p.Tempo != 30 || p.ActivityCutoff != 5000 || p.MaxAllowedValidators != 128 ||
		p.BondsMovingAverage != 990_000 || p.AlphaLow != 45_875 || p.AlphaHigh != 58_982 || p.LiquidAlpha || p.Yuma3 {
		t.Errorf("params %+v", p)
	}
	// Owner cut: floor(1e9 · (5898/65535 in 32 fractional bits)).
	if in.TaoWeight != 1<<63 || in.RaoEmission != 910_002_289 {
		t.Errorf("TaoWeight %d, RaoEmission %d", in.TaoWeight, in.RaoEmission)
	}
	r, err := Epoch(in, p)
	if err != nil {
		t.Fatal(err)
	}
	// epoch_mock: stakes 1000 + 5000·½ = 3500 and 3000 of 6500 share 910_002_289 rao; Bonds are
	// not written.
	if fmt.Sprint(r.NewValidatorPermit) != "[true true true]" || fmt.Sprint(r.Incentive) != "[0 0 0]" ||
		fmt.Sprint(r.Dividends) != "[0 0 0]" || r.Bonds[2] != nil || r.Emission[1] != 0 ||
		fmt.Sprint(r.Emission) != "[490001232 0 420001056]" || fmt.Sprint(r.StakeWeight) != "[35288 0 30246]" {
		t.Errorf("mock epoch: permits %v incentive %v emission %v stake weight %v bonds %v",
			r.NewValidatorPermit, r.Incentive, r.Emission, r.StakeWeight, r.Bonds)
	}
}

// TestReadEpochSpec381: a recent runtime (v16 metadata): TaoWeight plain, split pending
// emission, StakeThreshold, BondsPenalty, Yuma3On and AlphaSigmoidSteepness present.
func TestReadEpochSpec381(t *testing.T) {
	c, s := specNode(t, "metadata-spec381-v16.scale", 381, 1000)
	putSubnet(s)
	net := scale.AppendU16(nil, 1)
	s.put("TaoWeight", scale.AppendU64(nil, 1<<62))
	s.put("StakeThreshold", scale.AppendU64(nil, 500))
	s.put("Yuma3On", scale.AppendBool(nil, true), net)
	s.put("Kappa", scale.AppendU16(nil, 40_000), net)
	s.put("Tempo", scale.AppendU16(nil, 360), net)
	s.put("PendingServerEmission", scale.AppendU64(nil, 100), net)
	s.put("PendingValidatorEmission", scale.AppendU64(nil, 60), net)
	s.put("PendingRootAlphaDivs", scale.AppendU64(nil, 40), net)
	s.put("PendingOwnerCut", scale.AppendU64(nil, 1<<40), net) // not the epoch's
	hash, _ := client.ParseHash(testHash)
	in, p, err := ReadEpoch(context.Background(), c, 1, hash)
	if err != nil {
		t.Fatal(err)
	}
	checkSubnet(t, in, p)
	if p.Rules != RulesFor(381) || p.Rules.MockEpoch {
		t.Errorf("rules %+v, want %+v", p.Rules, RulesFor(381))
	}
	if p.Kappa != 40_000 || p.Tempo != 360 || p.ActivityCutoff != 5000 || p.StakeThreshold != 500 || !p.Yuma3 ||
		p.BondsPenalty != 65_535 || p.AlphaSigmoidSteepness != 1000 || p.BondsMovingAverage != 900_000 {
		t.Errorf("params %+v", p)
	}
	if in.TaoWeight != 1<<62 || in.RaoEmission != 200 {
		t.Errorf("TaoWeight %d, RaoEmission %d", in.TaoWeight, in.RaoEmission)
	}
	if _, err := Epoch(in, p); err != nil {
		t.Fatal(err)
	}

	// A subnet with two mechanisms splits its emission, which is not modelled.
	s.put("MechanismCountCurrent", []byte{2}, net)
	if _, _, err := ReadEpoch(context.Background(), c, 1, hash); !errors.Is(err, ErrUnsupported) {
		t.Errorf("two mechanisms: %v", err)
	}
}

// TestReadEpochInconsistent: a LastUpdate vector shorter than SubnetworkN is an error.
func TestReadEpochInconsistent(t *testing.T) {
	c, s := specNode(t, "metadata-spec300-v14.scale", 300, 1000)
	putSubnet(s)
	s.put("LastUpdate", u64s(990, 10), scale.AppendU16(nil, 1))
	hash, _ := client.ParseHash(testHash)
	if _, _, err := ReadEpoch(context.Background(), c, 1, hash); !errors.Is(err, ErrInput) {
		t.Errorf("err = %v", err)
	}
}
