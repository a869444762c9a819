package client_test

import (
	"context"
	"testing"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/scale"
)

// TestStateGetters reads each typed getter through the replayed finney node: recorded values
// (Uids(14, hk) = 29, an account's free balance), values a test sets at block 6852690, and
// absent keys, which read as the item's metadata default.
func TestStateGetters(t *testing.T) {
	n := chaintest.NewMetagraph(t)
	md := chaintest.Metadata(t)
	n.CompleteMetagraph(md, 99)
	c, _ := connect(t, n)
	ctx := context.Background()
	at := mustHash(t, block6852690)
	net1 := scale.AppendU16(nil, 1)
	var hot, absent [32]byte
	copy(hot[:], fixtures.Hex(t, "1a33474e4a857009da52aaa4080f176465f99c09763e03b9cd5ee038cec4093e"))
	absent[0] = 0xee
	set := func(pallet, item string, v []byte, keys ...[]byte) {
		n.SetStorage(chaintest.StorageKey(t, md, pallet, item, keys...), block6852690, v)
	}
	axon := scale.AppendU64(nil, 6_000_000)
	axon = scale.AppendU32(axon, 10_002_000)
	axon = scale.AppendU128(axon, scale.Uint128{Lo: 0xcb007109}) // 203.0.113.9
	axon = scale.AppendU16(axon, 8091)
	axon = append(axon, 4, 4, 0, 0)
	set("SubtensorModule", "Axons", axon, net1, hot[:])
	set("SubtensorModule", "Axons", nil, net1, absent[:])
	set("SubtensorModule", "Burn", scale.AppendU64(nil, 500_000_000), net1)
	set("SubtensorModule", "ServingRateLimit", nil, net1)
	set("SubtensorModule", "SubnetworkN", scale.AppendU16(nil, 1024), net1)
	set("SubtensorModule", "TotalHotkeyAlpha", scale.AppendU64(nil, 123_456_789), hot[:], net1)
	set("SubtensorModule", "NetworksAdded", nil, scale.AppendU16(nil, 7))
	set("SubtensorModule", "Burn", nil, scale.AppendU16(nil, 7))
	set("SubtensorModule", "Uids", nil, net1, absent[:])
	set("System", "Account", nil, absent[:])
	set("Commitments", "CommitmentOf", nil, net1, absent[:])
	s := c.At(&at)
	best := c.At(nil)
	acct := [32]byte(fixtures.Hex(t, "1257de87a71abb164403f7cb9ea65d0721f8bb89d8bd85754deceedd91e86053"))
	balanceAt := mustHash(t, "0x1b3f85dc8c83cada6d1782c955973a509a37c62af3d6ba29f5fd816aee37eb3b")

	tests := []struct {
		name string
		read func() (any, error)
		want any
	}{
		{"UID recorded", func() (any, error) { uid, ok, err := best.UID(ctx, 14, hot); return [2]any{uid, ok}, err }, [2]any{uint16(29), true}},
		{"UID absent", func() (any, error) { uid, ok, err := s.UID(ctx, 1, absent); return [2]any{uid, ok}, err }, [2]any{uint16(0), false}},
		{"SubnetExists set", func() (any, error) { return s.SubnetExists(ctx, 1) }, true},
		{"SubnetExists absent", func() (any, error) { return s.SubnetExists(ctx, 7) }, false},
		{"Axon set", func() (any, error) {
			a, err := s.Axon(ctx, 1, hot)
			ip, _ := a.Addr()
			return [4]any{a.Block, a.Version, ip.String(), a.Port}, err
		}, [4]any{uint64(6_000_000), uint32(10_002_000), "203.0.113.9", uint16(8091)}},
		{"Axon absent", func() (any, error) { return s.Axon(ctx, 1, absent) }, neuron.AxonInfo{}},
		{"FreeBalance recorded", func() (any, error) { return c.At(&balanceAt).FreeBalance(ctx, acct) }, uint64(7450117072)},
		{"FreeBalance absent", func() (any, error) { return s.FreeBalance(ctx, absent) }, uint64(0)},
		{"Burn", func() (any, error) { return s.Burn(ctx, 1) }, uint64(500_000_000)},
		// The metadata default of ServingRateLimit is 50 blocks.
		{"ServingRateLimit default", func() (any, error) { return s.ServingRateLimit(ctx, 1) }, uint64(50)},
		{"Tempo", func() (any, error) { return s.Tempo(ctx, 1) }, uint16(99)},
		{"SubnetworkN", func() (any, error) { return s.SubnetworkN(ctx, 1) }, uint16(1024)},
		// An absent optional item has no default: nil.
		{"Value optional absent", func() (any, error) {
			v, ok, err := s.Value(ctx, "Commitments", "CommitmentOf", net1, absent[:])
			return [2]any{v == nil, ok}, err
		}, [2]any{true, false}},
		// An absent value item reads its metadata default (Burn's: a u64).
		{"Value default", func() (any, error) {
			v, ok, err := s.Value(ctx, "SubtensorModule", "Burn", scale.AppendU16(nil, 7))
			return [2]any{len(v), ok}, err
		}, [2]any{8, false}},
		{"Stake", func() (any, error) { return s.Stake(ctx, hot, 1) }, uint64(123_456_789)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if *s.Block() != at || best.Block() != nil || s.Client() != c {
		t.Errorf("State at %v (best %v), client %p; want %v, nil, %p", s.Block(), best.Block(), s.Client(), at, c)
	}
}
