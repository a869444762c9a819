package yuma

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/scale"
)

// Proportions as raw bits of U96F32(p)/U96F32(u64::MAX) = floor(p·2^32/(2^64−1)):
// u64::MAX → 2^32 (exactly 1), 2^63 → 2^31 (the remainder 2^31/(2^64−1) < 1 is dropped),
// 2^62 → 2^30, u64::MAX/3 → floor(2^32/3) = 1431655765, u64::MAX/2 = 2^63−1 → 2^31−1.
func TestProportionBits(t *testing.T) {
	for _, tc := range []struct{ p, want uint64 }{
		{0, 0}, {math.MaxUint64, 1 << 32}, {1 << 63, 1 << 31}, {1 << 62, 1 << 30},
		{math.MaxUint64 / 3, 1431655765}, {math.MaxUint64 / 2, 1<<31 - 1}, {1, 0},
	} {
		if got := proportionBits(tc.p); got != tc.want {
			t.Errorf("proportionBits(%d) = %d, want %d", tc.p, got, tc.want)
		}
	}
}

// TestInherit: get_inherited_for_hotkey_on_subnet's arithmetic on hand-made cases. Values are
// in 2^-32 units (U96F32 bits); each term is stake·proportionBits(p), exact.
func TestInherit(t *testing.T) {
	const half, quarter, third = 1 << 63, 1 << 62, math.MaxUint64 / 3
	for _, tc := range []struct {
		name     string
		initial  uint64
		children []uint64
		parents  []share
		signed   bool
		want     uint64
		negative bool
	}{
		{name: "no links", initial: 1000, want: 1000},
		// 1001·2^32 − 1001·2^31 = 500.5·2^32 → floor 500.
		{name: "parent gives 50%", initial: 1001, children: []uint64{half}, want: 500},
		// 0 + 1001·2^31 = 500.5·2^32 → 500: one rao of the parent's 1001 is lost to flooring.
		{name: "child of a 50% parent", parents: []share{{1001, half}}, want: 500},
		// 10·2^32 + 3000·1431655765 + 7·2^30 = 4345433160728 = 1011.74999…·2^32 → 1011.
		{name: "two parents", initial: 10, parents: []share{{3000, third}, {7, quarter}}, want: 1011},
		// (2^31−1) + 2^31 = 2^32−1: 1000·2^32 − 1000·(2^32−1) = 1000 bits → floor 0.
		{name: "children sum to max", initial: 1000, children: []uint64{math.MaxUint64 / 2, math.MaxUint64 - math.MaxUint64/2}, want: 0},
		{name: "one child at max", initial: 1000, children: []uint64{math.MaxUint64}, want: 0},
		{name: "parent at max", initial: 5, parents: []share{{math.MaxUint64, math.MaxUint64}}, want: math.MaxUint64},
		// Σ children 200 > 100 (set_children forbids it): U96F32 clamps 100−200 at 0, then +50.
		{name: "overcommitted unsigned", initial: 100, children: []uint64{math.MaxUint64, math.MaxUint64}, parents: []share{{50, math.MaxUint64}}, want: 50},
		// I96F32 keeps −100, + 50 = −50 → saturating_to_num gives 0.
		{name: "overcommitted signed", initial: 100, children: []uint64{math.MaxUint64, math.MaxUint64}, parents: []share{{50, math.MaxUint64}}, signed: true, negative: true},
		{name: "signed in range", initial: 1001, children: []uint64{half}, signed: true, want: 500},
	} {
		got, neg := inherit(tc.initial, tc.children, tc.parents, tc.signed)
		if got != tc.want || neg != tc.negative {
			t.Errorf("%s: inherit = %d (negative %v), want %d (%v)", tc.name, got, neg, tc.want, tc.negative)
		}
	}
}

// TestStakeWeights: the alpha and root terms per rule. Hotkey A (alpha 1000, root 5000) has
// subnet child B at 50% and root child B at 100%; P (alpha 4000, root 2000, not a uid) gives
// C 25% on the subnet.
func TestStakeWeights(t *testing.T) {
	a, b, c, pk := hotkey(1), hotkey(2), hotkey(3), hotkey(9)
	stakes := map[[32]byte]*hotkeyStake{
		a:  {alpha: 1000, root: 5000, children: []Link{{1 << 63, b}}, rootChildren: []Link{{math.MaxUint64, b}}},
		b:  {parents: []Link{{1 << 63, a}}, rootParents: []Link{{math.MaxUint64, a}}},
		c:  {alpha: 3000, parents: []Link{{1 << 62, pk}}},
		pk: {alpha: 4000, root: 2000},
	}
	for _, tc := range []struct {
		spec   uint32
		netuid uint16
		want   string
	}{
		// HEAD: alpha 1000−500, 0+500, 3000+4000/4; root 5000−2500, 0+2500, 0+2000/4.
		{381, 1, "[500 500 4000] [2500 2500 500]"},
		{300, 1, "[500 500 4000] [2500 2500 500]"},
		{233, 1, "[500 500 4000] [2500 2500 500]"},
		// 222–227: root stake not inherited.
		{225, 1, "[500 500 4000] [5000 0 0]"},
		// raonet: root stake through netuid 0's keys (A gives B all of it).
		{218, 1, "[500 500 4000] [0 5000 0]"},
	} {
		var alphas, taos []uint64
		for _, hk := range [][32]byte{a, b, c} {
			al, ta, err := stakeWeights(stakes[hk], stakes, tc.netuid, RulesFor(tc.spec))
			if err != nil {
				t.Fatalf("spec %d: %v", tc.spec, err)
			}
			alphas, taos = append(alphas, al), append(taos, ta)
		}
		if got := fmt.Sprint(alphas, taos); got != tc.want {
			t.Errorf("spec %d netuid %d: %s, want %s", tc.spec, tc.netuid, got, tc.want)
		}
	}
	// Spec 221 was built with and without root inheritance: refused where they differ.
	if _, _, err := stakeWeights(stakes[a], stakes, 1, RulesFor(221)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("spec 221 with root links: %v", err)
	}
	if _, _, err := stakeWeights(stakes[c], stakes, 1, RulesFor(221)); err != nil {
		t.Errorf("spec 221 without root links: %v", err)
	}
	// A negative signed sum went through a wrapping to_num before spec 233.
	over := &hotkeyStake{alpha: 10, children: []Link{{math.MaxUint64, b}, {math.MaxUint64, c}}}
	if _, _, err := stakeWeights(over, stakes, 1, RulesFor(225)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("negative at spec 225: %v", err)
	}
	if al, _, err := stakeWeights(over, stakes, 1, RulesFor(250)); err != nil || al != 0 {
		t.Errorf("negative at spec 250: %d, %v", al, err)
	}
}

func links(ls ...Link) []byte {
	b := scale.AppendCompact(nil, uint64(len(ls)))
	for _, l := range ls {
		b = append(scale.AppendU64(b, l.Proportion), l.Hotkey[:]...)
	}
	return b
}

// putChildkeys adds to putSubnet's storage: uid 0 (hotkey 1) gives uid 1 (hotkey 2) 50% on
// subnet 1 and 100% on root; hotkey 9, not registered, (alpha 4000, root 2000) gives uid 2
// (hotkey 3) 25% on subnet 1.
func putChildkeys(s *fakeStorage) {
	net, root := scale.AppendU16(nil, 1), scale.AppendU16(nil, 0)
	h1, h2, h3, h9 := hotkey(1), hotkey(2), hotkey(3), hotkey(9)
	s.put("ChildKeys", links(Link{1 << 63, h2}), h1[:], net)
	s.put("ParentKeys", links(Link{1 << 63, h1}), h2[:], net)
	s.put("ChildKeys", links(Link{math.MaxUint64, h2}), h1[:], root)
	s.put("ParentKeys", links(Link{math.MaxUint64, h1}), h2[:], root)
	s.put("ParentKeys", links(Link{1 << 62, h9}), h3[:], net)
	s.put("ChildKeys", links(Link{1 << 62, h3}), h9[:], net)
	s.put("TotalHotkeyAlpha", scale.AppendU64(nil, 4000), h9[:], net)
	s.put("TotalHotkeyAlpha", scale.AppendU64(nil, 2000), h9[:], root)
}

// TestReadEpochChildkeys: ReadEpoch applies childkey inheritance as each runtime did.
func TestReadEpochChildkeys(t *testing.T) {
	hash, _ := client.ParseHash(testHash)
	for _, tc := range []struct {
		blob         string
		spec         uint32
		alpha, tao   string
		stakeWeights string
	}{
		// See TestStakeWeights. TaoWeight 2^62 → 0.25: totals 500+625, 500+625, 4000+125 of
		// 6375; StakeWeight floor(floor(t/6375 in 32 bits)·65535).
		{"metadata-spec381-v16.scale", 381, "[500 500 4000]", "[2500 2500 500]", "[11564 11564 42404]"},
		{"metadata-spec300-v14.scale", 300, "[500 500 4000]", "[2500 2500 500]", "[11564 11564 42404]"},
		// raonet: root through netuid 0's keys; totals 500, 500+1250, 4000 of 6250.
		{"metadata-spec218-v14.scale", 218, "[500 500 4000]", "[0 5000 0]", "[5242 18349 41942]"},
	} {
		c, s := specNode(t, tc.blob, tc.spec, 1000)
		putSubnet(s)
		putChildkeys(s)
		if tc.spec == 218 {
			s.put("TaoWeight", scale.AppendU64(nil, 1<<62), scale.AppendU16(nil, 1))
		} else {
			s.put("TaoWeight", scale.AppendU64(nil, 1<<62))
		}
		in, p, err := ReadEpoch(context.Background(), c, 1, hash)
		if err != nil {
			t.Fatalf("spec %d: %v", tc.spec, err)
		}
		if fmt.Sprint(in.AlphaStake) != tc.alpha || fmt.Sprint(in.TaoStake) != tc.tao {
			t.Errorf("spec %d: alpha %v tao %v, want %s %s", tc.spec, in.AlphaStake, in.TaoStake, tc.alpha, tc.tao)
		}
		r, err := Epoch(in, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(r.StakeWeight); got != tc.stakeWeights {
			t.Errorf("spec %d: stake weight %s, want %s", tc.spec, got, tc.stakeWeights)
		}
	}

	// The spec-221 builds differ on root links: refused.
	c, s := specNode(t, "metadata-spec218-v14.scale", 221, 1000)
	putSubnet(s)
	putChildkeys(s)
	if _, _, err := ReadEpoch(context.Background(), c, 1, hash); !errors.Is(err, ErrUnsupported) {
		t.Errorf("spec 221: %v", err)
	}
}

// TestReadEpochChildkeysRoundTrips: a 300-uid subnet whose every uid has an unregistered
// parent costs four query rounds, each cut into state_queryStorageAt calls of 256 keys:
// parameters (1 call), Keys/Weights/Bonds/BlockAtRegistration (1200 keys, 5 calls), each
// hotkey's two stakes and two link lists (1200 keys, 5 calls), the parents' two stakes (600
// keys, 3 calls).
func TestReadEpochChildkeysRoundTrips(t *testing.T) {
	const n = 300
	c, node, s := specNodeWithNode(t, "metadata-spec381-v16.scale", 381, 1000)
	net, root := scale.AppendU16(nil, 1), scale.AppendU16(nil, 0)
	s.put("SubnetworkN", scale.AppendU16(nil, n), net)
	s.put("LastUpdate", u64s(make([]uint64, n)...), net)
	s.put("ValidatorPermit", bools(make([]bool, n)...), net)
	for uid := range uint16(n) {
		var hk, parent [32]byte
		hk[0], hk[1], parent[0], parent[1], parent[2] = byte(uid), byte(uid>>8), byte(uid), byte(uid>>8), 1
		s.put("Keys", hk[:], net, scale.AppendU16(nil, uid))
		s.put("TotalHotkeyAlpha", scale.AppendU64(nil, 10), hk[:], net)
		s.put("ParentKeys", links(Link{math.MaxUint64, parent}), hk[:], net)
		s.put("TotalHotkeyAlpha", scale.AppendU64(nil, uint64(uid)), parent[:], net)
		s.put("TotalHotkeyAlpha", scale.AppendU64(nil, 2*uint64(uid)), parent[:], root)
	}
	hash, _ := client.ParseHash(testHash)
	before := node.Count("state_queryStorageAt")
	in, _, err := ReadEpoch(context.Background(), c, 1, hash)
	if err != nil {
		t.Fatal(err)
	}
	if got := node.Count("state_queryStorageAt") - before; got != 14 {
		t.Errorf("%d state_queryStorageAt calls, want 14", got)
	}
	if in.AlphaStake[7] != 17 || in.TaoStake[7] != 14 || in.AlphaStake[299] != 309 || in.TaoStake[299] != 598 {
		t.Errorf("alpha %v tao %v", in.AlphaStake, in.TaoStake)
	}
}
