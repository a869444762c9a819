package commitments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/extrinsic"
)

// Committed is a commitment included on chain.
type Committed struct {
	Block  client.Hash   // the block set_commitment was included in
	Stored *Registration // CommitmentOf read back at that block
}

// Commit sets the commitment of s's account (a hotkey registered on netuid) to fields: it
// refuses before submitting what the runtime cannot hold (Rules.Check) or what its rate limit
// would refuse (a *RateLimitError), then signs set_commitment, waits for inclusion and reads
// CommitmentOf back. Failures after submitting are those of client.SignAndSubmit: a pool
// rejection, a dispatch error named by the pallet (e.g. Commitments.SpaceLimitExceeded), or
// client.ErrTxNotIncluded.
func Commit(ctx context.Context, c *client.Client, s extrinsic.Signer, netuid uint16, fields []Field) (Committed, error) {
	if _, err := c.Refresh(ctx); err != nil {
		return Committed{}, fmt.Errorf("commitments: runtime version: %w", err)
	}
	call, err := SetCommitment(c.Runtime().Metadata, netuid, fields)
	if err != nil {
		return Committed{}, err
	}
	u, err := ReadUsage(ctx, c, netuid, s.PublicKey())
	if err != nil {
		return Committed{}, err
	}
	if err := u.Check(Cost(fields)); err != nil {
		return Committed{}, err
	}
	block, err := c.SignAndSubmit(ctx, call, s, client.SignOptions{})
	if err != nil {
		return Committed{Block: block}, err
	}
	stored, err := Read(ctx, c, netuid, s.PublicKey(), &block)
	if err != nil {
		return Committed{Block: block}, fmt.Errorf("commitments: set_commitment was included in block %s, but reading it back failed: %w", block, err)
	}
	if !SameFields(stored, fields) {
		return Committed{Block: block, Stored: stored}, fmt.Errorf("commitments: set_commitment was included in block %s, but CommitmentOf holds %s", block, describe(stored))
	}
	return Committed{Block: block, Stored: stored}, nil
}

// describe renders a stored commitment (nil: none) in one line.
func describe(r *Registration) string {
	if r == nil {
		return "nothing"
	}
	s := fmt.Sprintf("%d fields", len(r.Fields))
	for i, f := range r.Fields {
		if i == 0 {
			s += ": "
		} else {
			s += ", "
		}
		s += f.String()
	}
	return s
}

// KeeperOptions tune a Keeper.
type KeeperOptions struct {
	Logger *slog.Logger // nil discards
	// Ready is asked before each attempt; an error (e.g. the hotkey is not registered, which the
	// runtime refuses as AccountNotAllowedCommit) skips the attempt and is reported.
	Ready func() error
	// BlockTime converts blocks to wait into a retry delay; 0 means 12 s.
	BlockTime time.Duration
}

// KeeperStatus is what a Keeper last saw; it marshals into GET /v1/chain.
type KeeperStatus struct {
	Ours         string    `json:"ours"`
	OnChain      *string   `json:"on_chain"` // the stored commitment, rendered; null when none
	OnChainBlock uint32    `json:"on_chain_block"`
	Published    bool      `json:"published"`
	Error        string    `json:"error,omitempty"`
	ErrorAt      time.Time `json:"error_at,omitzero"`
}

// Keeper keeps one text published as the account's only commitment field (a Raw field, so
// readers using the Python SDK can read it): it commits when the chain holds anything else,
// never more often than the rate limit allows. It is safe for concurrent use.
type Keeper struct {
	c      *client.Client
	s      extrinsic.Signer
	netuid uint16
	text   string
	want   []Field
	opts   KeeperOptions
	log    *slog.Logger

	mu     sync.Mutex
	status KeeperStatus
}

// NewKeeper returns a Keeper publishing text on netuid, signed by s. text must fit one Raw field
// (128 bytes); longer text is a *TooLongError.
func NewKeeper(c *client.Client, s extrinsic.Signer, netuid uint16, text string, opts KeeperOptions) (*Keeper, error) {
	if len(text) > MaxRaw {
		return nil, &TooLongError{Len: len(text), Limit: MaxRaw, Variant: "Raw"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BlockTime == 0 {
		opts.BlockTime = 12 * time.Second
	}
	return &Keeper{
		c: c, s: s, netuid: netuid, text: text, opts: opts, log: opts.Logger,
		want: []Field{{Kind: Raw, Bytes: []byte(text)}}, status: KeeperStatus{Ours: text},
	}, nil
}

// Status returns what the keeper last saw.
func (k *Keeper) Status() KeeperStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.status
}

// Published reports whether the chain held our commitment when last looked at.
func (k *Keeper) Published() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.status.Published
}

// Ensure commits when the chain's commitment differs from ours. It reports whether the chain now
// holds ours and, when it does not, how long to wait before trying again (0: the caller's
// default); a failure is logged and kept in Status.
func (k *Keeper) Ensure(ctx context.Context) (bool, time.Duration) {
	ok, wait, err := k.ensure(ctx)
	k.mu.Lock()
	k.status.Published = ok
	if err != nil && ctx.Err() == nil {
		k.status.Error, k.status.ErrorAt = err.Error(), time.Now()
	} else if ok {
		k.status.Error, k.status.ErrorAt = "", time.Time{}
	}
	k.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		k.log.Warn("commitment not published; retrying later", "err", err, "retry_in", wait)
	}
	return ok, wait
}

func (k *Keeper) ensure(ctx context.Context) (bool, time.Duration, error) {
	if k.opts.Ready != nil {
		if err := k.opts.Ready(); err != nil {
			return false, 0, err
		}
	}
	cur, err := Read(ctx, k.c, k.netuid, k.s.PublicKey(), nil)
	if err != nil {
		return false, 0, err
	}
	k.record(cur)
	if SameFields(cur, k.want) {
		return true, 0, nil
	}
	u, err := ReadUsage(ctx, k.c, k.netuid, k.s.PublicKey())
	if err != nil {
		return false, 0, err
	}
	if err := u.Check(Cost(k.want)); err != nil {
		// Waiting beats a refused extrinsic.
		var rl *RateLimitError
		wait := time.Duration(0)
		if errors.As(err, &rl) {
			wait = time.Duration(rl.WaitBlocks+1) * k.opts.BlockTime
		}
		return false, wait, err
	}
	k.log.Info("publishing the commitment (set_commitment)", "commitment", k.text, "on_chain", describe(cur))
	res, err := Commit(ctx, k.c, k.s, k.netuid, k.want)
	if res.Stored != nil {
		k.record(res.Stored)
	}
	if err != nil {
		return false, 0, fmt.Errorf("set_commitment: %w", err)
	}
	k.log.Info("commitment published", "commitment", k.text, "block", res.Block)
	return true, 0, nil
}

func (k *Keeper) record(r *Registration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r == nil {
		k.status.OnChain, k.status.OnChainBlock = nil, 0
		return
	}
	s := describe(r)
	if len(r.Fields) == 1 {
		if t, ok := r.Fields[0].Text(); ok {
			s = t
		}
	}
	k.status.OnChain, k.status.OnChainBlock = &s, r.Block
}
