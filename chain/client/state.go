package client

import (
	"context"
	"fmt"

	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/neuron"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// subtensor is the pallet of the subnet, neuron and axon storage.
const subtensor = "SubtensorModule"

// State reads the chain's storage at one block as typed values: the domain getters (a hotkey's
// UID, an axon, a balance, the hyperparameters the miner reads) over Storage, as go-ethereum's
// ethclient sits over its rpc client. Keys are built from the runtime's metadata
// (chain/storage); a key that holds no value reads as the item's metadata default. Get one with
// Client.At.
type State struct {
	c  *Client
	at *Hash
}

// At returns the reader of storage at block at (nil = the best block at each read).
func (c *Client) At(at *Hash) State { return State{c: c, at: at} }

// Client returns the client s reads through.
func (s State) Client() *Client { return s.c }

// Block returns the block s reads at (nil = the best block).
func (s State) Block() *Hash { return s.at }

// Value reads pallet.item under keys (each the SCALE encoding of a map key): the stored bytes
// with ok true or, when the key holds no value, ok false with the item's metadata default (nil
// for an optional item, which has none).
func (s State) Value(ctx context.Context, pallet, item string, keys ...[]byte) (v []byte, ok bool, err error) {
	md := s.c.Runtime().Metadata
	k, err := storage.Key(md, pallet, item, keys...)
	if err != nil {
		return nil, false, err
	}
	v, ok, err = s.c.Storage(ctx, k, s.at)
	if err != nil {
		return nil, false, fmt.Errorf("read %s.%s: %w", pallet, item, err)
	}
	if !ok {
		e, err := md.StorageEntry(pallet, item)
		if err != nil {
			return nil, false, err
		}
		if e.Modifier != metadata.Default {
			return nil, false, nil
		}
		return e.Default, false, nil
	}
	return v, true, nil
}

// u64 reads a SubtensorModule item holding a u64.
func (s State) u64(ctx context.Context, item string, keys ...[]byte) (uint64, error) {
	v, _, err := s.Value(ctx, subtensor, item, keys...)
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

// u16 reads a SubtensorModule item holding a u16.
func (s State) u16(ctx context.Context, item string, keys ...[]byte) (uint16, error) {
	v, _, err := s.Value(ctx, subtensor, item, keys...)
	if err != nil {
		return 0, err
	}
	d := scale.NewDecoder(v)
	n := d.U16()
	if err := d.Finish(); err != nil {
		return 0, fmt.Errorf("decode %s: %w", item, err)
	}
	return n, nil
}

func netuidKey(netuid uint16) []byte { return scale.AppendU16(nil, netuid) }

// UID returns the hotkey's UID on subnet netuid (Uids), and whether it is registered there.
func (s State) UID(ctx context.Context, netuid uint16, hotkey [32]byte) (uint16, bool, error) {
	v, ok, err := s.Value(ctx, subtensor, "Uids", netuidKey(netuid), hotkey[:])
	if err != nil || !ok {
		return 0, false, err
	}
	d := scale.NewDecoder(v)
	uid := d.U16()
	return uid, true, d.Finish()
}

// SubnetExists reports whether subnet netuid exists (NetworksAdded).
func (s State) SubnetExists(ctx context.Context, netuid uint16) (bool, error) {
	v, _, err := s.Value(ctx, subtensor, "NetworksAdded", netuidKey(netuid))
	if err != nil {
		return false, err
	}
	return len(v) == 1 && v[0] == 1, nil
}

// Axon returns the axon the hotkey served on subnet netuid (Axons); the zero AxonInfo when it
// never served one.
func (s State) Axon(ctx context.Context, netuid uint16, hotkey [32]byte) (neuron.AxonInfo, error) {
	v, ok, err := s.Value(ctx, subtensor, "Axons", netuidKey(netuid), hotkey[:])
	if err != nil || !ok {
		return neuron.AxonInfo{}, err
	}
	return neuron.DecodeAxonInfo(v)
}

// FreeBalance returns the account's free balance in rao (System.Account's free).
func (s State) FreeBalance(ctx context.Context, account [32]byte) (uint64, error) {
	v, ok, err := s.Value(ctx, "System", "Account", account[:])
	if err != nil || !ok {
		return 0, err
	}
	ai, err := neuron.DecodeAccountInfo(v)
	return ai.Free, err
}

// Burn returns the TAO (in rao) a registration on subnet netuid burns now (Burn).
func (s State) Burn(ctx context.Context, netuid uint16) (uint64, error) {
	return s.u64(ctx, "Burn", netuidKey(netuid))
}

// ServingRateLimit returns how many blocks apart a hotkey may change its axon on subnet netuid
// (ServingRateLimit).
func (s State) ServingRateLimit(ctx context.Context, netuid uint16) (uint64, error) {
	return s.u64(ctx, "ServingRateLimit", netuidKey(netuid))
}

// Tempo returns subnet netuid's tempo, the blocks between its epochs (Tempo).
func (s State) Tempo(ctx context.Context, netuid uint16) (uint16, error) {
	return s.u16(ctx, "Tempo", netuidKey(netuid))
}

// SubnetworkN returns the number of UIDs on subnet netuid (SubnetworkN).
func (s State) SubnetworkN(ctx context.Context, netuid uint16) (uint16, error) {
	return s.u16(ctx, "SubnetworkN", netuidKey(netuid))
}

// Stake returns the alpha (in rao) staked on the hotkey on subnet netuid, its own and its
// nominators' (TotalHotkeyAlpha).
func (s State) Stake(ctx context.Context, hotkey [32]byte, netuid uint16) (uint64, error) {
	return s.u64(ctx, "TotalHotkeyAlpha", hotkey[:], netuidKey(netuid))
}
