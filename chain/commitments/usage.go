package commitments

import (
	"context"
	"errors"
	"fmt"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/scale"
)

// Usage is an account's standing against the pallet's rate limit on one subnet, read at a block,
// for a commitment included in the next block.
type Usage struct {
	Block uint64 `json:"block"` // the block read at; the commitment is assumed to land in Block+1

	// Space rate limit (Rules.SpaceLimit, specs ≥ 300): Used of MaxSpace spent in Epoch, the
	// subnet epoch of Block+1; the budget starts again at the next epoch, about NextEpochIn
	// blocks away.
	SpaceLimit  bool   `json:"space_limit"`
	Epoch       uint64 `json:"epoch,omitempty"`
	Used        uint64 `json:"used_space,omitempty"`
	MaxSpace    uint64 `json:"max_space,omitempty"`
	NextEpochIn uint64 `json:"next_epoch_in,omitempty"`

	// Block rate limit (spec 218): one commitment per RateLimit blocks after LastCommit (0:
	// never committed).
	LastCommit uint64 `json:"last_commitment,omitempty"`
	RateLimit  uint64 `json:"rate_limit_blocks,omitempty"`
}

// ErrRateLimited is matched (errors.Is) by every *RateLimitError.
var ErrRateLimited = errors.New("commitments: rate limited")

// RateLimitError is a commitment the runtime would refuse under its rate limit. Name is the
// pallet error it would fail with: SpaceLimitExceeded (MaxSpace per subnet epoch) or
// CommitmentSetRateLimitExceeded (RateLimit blocks).
type RateLimitError struct {
	Name       string
	Usage      Usage
	Cost       uint64 // space the commitment would charge
	WaitBlocks uint64 // about how many blocks until it would be accepted
}

func (e *RateLimitError) Error() string {
	u := e.Usage
	if e.Name == "SpaceLimitExceeded" {
		return fmt.Sprintf("commitments: rate limit (%s): %d of MaxSpace %d already used in subnet epoch %d, this commitment costs %d; the budget resets in about %d blocks",
			e.Name, u.Used, u.MaxSpace, u.Epoch, e.Cost, e.WaitBlocks)
	}
	return fmt.Sprintf("commitments: rate limit (%s): last commitment at block %d, the runtime's RateLimit allows one every %d blocks; wait %d more blocks",
		e.Name, u.LastCommit, u.RateLimit, e.WaitBlocks)
}

// Is makes errors.Is(err, ErrRateLimited) match.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Check returns a *RateLimitError when a commitment costing cost (see Cost) would be refused.
func (u Usage) Check(cost uint64) error {
	if u.SpaceLimit {
		if u.Used+cost > u.MaxSpace {
			return &RateLimitError{Name: "SpaceLimitExceeded", Usage: u, Cost: cost, WaitBlocks: u.NextEpochIn}
		}
		return nil
	}
	next := u.Block + 1
	if u.LastCommit > 0 && u.RateLimit > 0 && next < u.LastCommit+u.RateLimit {
		return &RateLimitError{Name: "CommitmentSetRateLimitExceeded", Usage: u, Cost: cost, WaitBlocks: u.LastCommit + u.RateLimit - next}
	}
	return nil
}

// ReadUsage reads account's rate-limit standing on netuid at the best block.
func ReadUsage(ctx context.Context, c *client.Client, netuid uint16, account [32]byte) (Usage, error) {
	md := c.Runtime().Metadata
	rules, err := ReadRules(md)
	if err != nil {
		return Usage{}, err
	}
	h, err := c.Header(ctx, nil)
	if err != nil {
		return Usage{}, fmt.Errorf("commitments: best block: %w", err)
	}
	at, err := c.BlockHash(ctx, h.Number)
	if err != nil {
		return Usage{}, fmt.Errorf("commitments: best block: %w", err)
	}
	r := reader{c.At(&at)}
	net := scale.AppendU16(nil, netuid)
	u := Usage{Block: h.Number, SpaceLimit: rules.SpaceLimit, RateLimit: rules.RateLimit}
	if !rules.SpaceLimit {
		v, err := r.read(ctx, pallet, "LastCommitment", net, account[:])
		if err == nil && len(v) > 0 {
			u.LastCommit, err = decodeU32(v, "LastCommitment")
		}
		return u, err
	}
	v, err := r.read(ctx, pallet, "MaxSpace")
	if err != nil {
		return u, err
	}
	if u.MaxSpace, err = decodeU32(v, "MaxSpace"); err != nil {
		return u, err
	}
	if u.Epoch, u.NextEpochIn, err = r.epoch(ctx, netuid, u.Block+1); err != nil {
		return u, err
	}
	v, err = r.read(ctx, pallet, "UsedSpaceOf", net, account[:])
	if err != nil {
		return u, err
	}
	if len(v) > 0 {
		d := scale.NewDecoder(v)
		last, used := d.U64(), d.U64()
		if err := d.Finish(); err != nil {
			return u, fmt.Errorf("commitments: decode UsedSpaceOf: %w", err)
		}
		if last == u.Epoch {
			u.Used = used
		}
	}
	return u, nil
}

// reader reads storage at one block through the typed client.
type reader struct{ client.State }

// read returns the value of pallet.item, or the metadata's default when it is absent (empty for
// optional items).
func (r reader) read(ctx context.Context, pallet, item string, keys ...[]byte) ([]byte, error) {
	v, _, err := r.Value(ctx, pallet, item, keys...)
	if err != nil {
		return nil, fmt.Errorf("commitments: %w", err)
	}
	return v, nil
}

// epoch returns the subnet's epoch index at block as the pallet computes it, and about how many
// blocks until it changes. Runtimes with SubtensorModule.SubnetEpochIndex (since May 2026) keep a
// counter; older ones compute (block + netuid + 1) / (tempo + 1).
func (r reader) epoch(ctx context.Context, netuid uint16, block uint64) (index, next uint64, err error) {
	net := scale.AppendU16(nil, netuid)
	tempo, err := r.Tempo(ctx, netuid)
	if err != nil {
		return 0, 0, fmt.Errorf("commitments: %w", err)
	}
	period := uint64(tempo) + 1
	offset := block + uint64(netuid) + 1
	index, next = offset/period, period-offset%period
	if _, err := r.Client().Runtime().Metadata.StorageEntry("SubtensorModule", "SubnetEpochIndex"); err == nil {
		v, err := r.read(ctx, "SubtensorModule", "SubnetEpochIndex", net)
		if err != nil {
			return 0, 0, err
		}
		d := scale.NewDecoder(v)
		if index = d.U64(); d.Finish() != nil {
			return 0, 0, fmt.Errorf("commitments: decode SubnetEpochIndex: %w", d.Finish())
		}
	}
	return index, next, nil
}

func decodeU32(v []byte, item string) (uint64, error) {
	d := scale.NewDecoder(v)
	n := d.U32()
	if err := d.Finish(); err != nil {
		return 0, fmt.Errorf("commitments: decode %s: %w", item, err)
	}
	return uint64(n), nil
}
