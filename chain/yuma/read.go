package yuma

import (
	"context"
	"fmt"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// State is the per-uid storage an epoch reads besides the metagraph: the stored Weights and
// Bonds rows and BlockAtRegistration.
type State struct {
	Weights             [][]Entry
	Bonds               [][]Entry
	BlockAtRegistration []uint64
}

// DecodeEntries decodes a Weights or Bonds value: SCALE Vec<(u16, u16)>.
func DecodeEntries(b []byte) ([]Entry, error) {
	d := scale.NewDecoder(b)
	n := d.Len(4)
	out := make([]Entry, 0, n)
	for range n {
		out = append(out, Entry{d.U16(), d.U16()})
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode weights row: %w", err)
	}
	return out, nil
}

// ReadState reads Weights, Bonds (storage index netuid, i.e. mechanism 0) and
// BlockAtRegistration of uids 0…n−1 at block at (nil: best block). Keys are built with the
// hashers the runtime metadata declares.
func ReadState(ctx context.Context, c *client.Client, netuid, n uint16, at *client.Hash) (State, error) {
	md := c.Runtime().Metadata
	net := scale.AppendU16(nil, netuid)
	items := []string{"Weights", "Bonds", "BlockAtRegistration"}
	keys := make([][]byte, 0, len(items)*int(n))
	for _, item := range items {
		for uid := range n {
			k, err := storage.Key(md, "SubtensorModule", item, net, scale.AppendU16(nil, uid))
			if err != nil {
				return State{}, fmt.Errorf("storage key %s: %w", item, err)
			}
			keys = append(keys, k)
		}
	}
	vals, err := c.StorageMulti(ctx, keys, at)
	if err != nil {
		return State{}, fmt.Errorf("read weights and bonds: %w", err)
	}
	if len(vals) != len(keys) {
		return State{}, fmt.Errorf("read weights and bonds: %d values for %d keys", len(vals), len(keys))
	}
	s := State{Weights: make([][]Entry, n), Bonds: make([][]Entry, n), BlockAtRegistration: make([]uint64, n)}
	for uid := range int(n) {
		if v := vals[uid]; v != nil {
			if s.Weights[uid], err = DecodeEntries(v); err != nil {
				return State{}, fmt.Errorf("weights of uid %d: %w", uid, err)
			}
		}
		if v := vals[int(n)+uid]; v != nil {
			if s.Bonds[uid], err = DecodeEntries(v); err != nil {
				return State{}, fmt.Errorf("bonds of uid %d: %w", uid, err)
			}
		}
		if v := vals[2*int(n)+uid]; v != nil {
			d := scale.NewDecoder(v)
			s.BlockAtRegistration[uid] = d.U64()
			if err := d.Finish(); err != nil {
				return State{}, fmt.Errorf("block at registration of uid %d: %w", uid, err)
			}
		}
	}
	return s, nil
}
