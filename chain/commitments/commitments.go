// Package commitments speaks subtensor's Commitments pallet: the Data encoding of commitment
// fields, the set_commitment call checked against what the connected runtime can hold, the
// CommitmentOf storage value, and the pallet's rate limits (a space budget per subnet epoch since
// spec 300, one commitment per RateLimit blocks before).
//
// Subnets use commitments to publish a miner's endpoint, model id or a hash. A validator reads
// CommitmentOf(netuid, hotkey); set_commitment is signed by the hotkey, which must be registered
// on the subnet, and pays no fee.
package commitments

import (
	"bytes"
	"context"
	"fmt"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

const pallet = "Commitments"

// Registration is the CommitmentOf value: the commitment and the block it was set at.
type Registration struct {
	Deposit uint64
	Block   uint32
	Fields  []Field
}

// DecodeRegistration decodes a CommitmentOf value: deposit u64, block u32, compact field count,
// then the fields. It is strict: short input, an unknown Data tag, an over-long bounded payload
// or trailing bytes are errors naming the offset (the pallet's own decoder pads a short value
// with zeros; no runtime writes one).
func DecodeRegistration(b []byte) (Registration, error) {
	d := scale.NewDecoder(b)
	r := Registration{Deposit: d.U64(), Block: d.U32()}
	n := d.Len(1)
	if n > 0 {
		r.Fields = make([]Field, 0, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		f := decodeField(d)
		f.Bytes = bytes.Clone(f.Bytes)
		r.Fields = append(r.Fields, f)
	}
	if err := d.Finish(); err != nil {
		return Registration{}, fmt.Errorf("commitments: decode CommitmentOf: %w", err)
	}
	return r, nil
}

// AppendRegistration appends the SCALE encoding of r (the inverse of DecodeRegistration).
func AppendRegistration(b []byte, r Registration) ([]byte, error) {
	info, err := EncodeInfo(r.Fields)
	if err != nil {
		return b, err
	}
	b = scale.AppendU64(b, r.Deposit)
	b = scale.AppendU32(b, r.Block)
	return append(b, info...), nil
}

// Key returns the storage key of CommitmentOf(netuid, account), with the hashers the runtime's
// metadata declares (Identity, Twox64Concat).
func Key(md *metadata.Metadata, netuid uint16, account [32]byte) ([]byte, error) {
	return storage.Key(md, pallet, "CommitmentOf", scale.AppendU16(nil, netuid), account[:])
}

// Read reads CommitmentOf(netuid, account) at block at (nil = best block); nil when the account
// has no commitment on the subnet.
func Read(ctx context.Context, c *client.Client, netuid uint16, account [32]byte, at *client.Hash) (*Registration, error) {
	v, ok, err := c.At(at).Value(ctx, pallet, "CommitmentOf", scale.AppendU16(nil, netuid), account[:])
	if err != nil {
		return nil, fmt.Errorf("commitments: %w", err)
	}
	if !ok {
		return nil, nil
	}
	r, err := DecodeRegistration(v)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// SameFields reports whether a stored commitment (nil: none) holds exactly fields.
func SameFields(r *Registration, fields []Field) bool {
	if r == nil || len(r.Fields) != len(fields) {
		return false
	}
	for i := range fields {
		if !r.Fields[i].Equal(fields[i]) {
			return false
		}
	}
	return true
}
