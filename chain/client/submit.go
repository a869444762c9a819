package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/storage"
)

// TxStatus is one notification of author_submitAndWatchExtrinsic (Substrate TransactionStatus).
type TxStatus struct {
	// Kind is one of "future", "ready", "broadcast", "inBlock", "retracted", "finalityTimeout",
	// "finalized", "usurped", "dropped", "invalid".
	Kind  string
	Block Hash // for inBlock, retracted, finalityTimeout, finalized (and the new hash for usurped)
}

// ErrTxNotIncluded is returned (wrapped) when the pool reports an extrinsic dropped, invalid or
// usurped before it was included in a block.
var ErrTxNotIncluded = errors.New("chain: extrinsic not included")

func parseStatus(raw []byte) (TxStatus, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return TxStatus{Kind: s}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || len(obj) != 1 {
		return TxStatus{}, fmt.Errorf("chain: unexpected transaction status %.100s", raw)
	}
	for k, v := range obj {
		st := TxStatus{Kind: k}
		var h Hash
		if json.Unmarshal(v, &h) == nil {
			st.Block = h
		}
		return st, nil
	}
	return TxStatus{}, nil
}

// Watch follows one submitted extrinsic.
type Watch struct {
	sub *rpc.Subscription
}

// Next returns the next status.
func (w *Watch) Next(ctx context.Context) (TxStatus, error) {
	raw, err := w.sub.Next(ctx)
	if err != nil {
		return TxStatus{}, err
	}
	return parseStatus(raw)
}

// Close stops watching (author_unwatchExtrinsic).
func (w *Watch) Close(ctx context.Context) error { return w.sub.Unsubscribe(ctx) }

// Submit submits a signed extrinsic without watching it and returns its hash. A pool rejection is
// returned as *PoolError.
func (c *Client) Submit(ctx context.Context, ext []byte) (Hash, error) {
	var h Hash
	if err := c.t.Call(ctx, "author_submitExtrinsic", &h, Bytes(ext)); err != nil {
		return Hash{}, poolError(err)
	}
	return h, nil
}

// SubmitAndWatch submits a signed extrinsic and follows its status. A pool rejection is returned
// as *PoolError.
func (c *Client) SubmitAndWatch(ctx context.Context, ext []byte) (*Watch, error) {
	sub, err := c.t.Subscribe(ctx, "author_submitAndWatchExtrinsic", "author_unwatchExtrinsic", Bytes(ext))
	if err != nil {
		return nil, poolError(err)
	}
	return &Watch{sub: sub}, nil
}

// SubmitAndWaitInBlock submits ext and waits until it is in a block (inBlock or finalized),
// returning that block's hash. Dropped, invalid and usurped extrinsics give ErrTxNotIncluded.
func (c *Client) SubmitAndWaitInBlock(ctx context.Context, ext []byte) (Hash, error) {
	w, err := c.SubmitAndWatch(ctx, ext)
	if err != nil {
		return Hash{}, err
	}
	defer w.Close(context.WithoutCancel(ctx))
	for {
		st, err := w.Next(ctx)
		if err != nil {
			return Hash{}, fmt.Errorf("chain: watch extrinsic: %w", err)
		}
		c.log.Debug("chain: extrinsic status", "status", st.Kind, "block", st.Block)
		switch st.Kind {
		case "inBlock", "finalized":
			return st.Block, nil
		case "dropped", "invalid", "usurped":
			return Hash{}, fmt.Errorf("%w: %s", ErrTxNotIncluded, st.Kind)
		}
	}
}

// ExtrinsicResult finds ext in block and reports its dispatch outcome from the block's
// System.Events: nil on ExtrinsicSuccess, a *metadata.DispatchError (module errors named through
// the metadata's error enums) on ExtrinsicFailed.
func (c *Client) ExtrinsicResult(ctx context.Context, block Hash, ext []byte) error {
	var b struct {
		Block struct {
			Extrinsics []Bytes `json:"extrinsics"`
		} `json:"block"`
	}
	if err := c.t.Call(ctx, "chain_getBlock", &b, block); err != nil {
		return err
	}
	idx := -1
	for i, x := range b.Block.Extrinsics {
		if bytes.Equal(x, ext) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return fmt.Errorf("%w: extrinsic in block %v", ErrNotFound, block)
	}
	raw, ok, err := c.Storage(ctx, storage.Prefix("System", "Events"), &block)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: System.Events at %v", ErrNotFound, block)
	}
	md := c.Runtime().Metadata
	events, err := md.DecodeEvents(raw)
	if err != nil {
		return fmt.Errorf("chain: events of %v: %w", block, err)
	}
	return md.ExtrinsicResult(events, idx)
}

// SignOptions choose the era and tip of an extrinsic.
type SignOptions struct {
	// Period is the mortal era length in blocks (rounded to a power of two); 0 means 128, the
	// SDK's default. Immortal makes the extrinsic valid forever (not recommended).
	Period   uint64
	Immortal bool
	Tip      uint64
}

// Sign builds a signed extrinsic for call with the current runtime, the signer's next nonce
// (from the runtime, AccountNonceApi) and a mortal era starting at the finalized head. Build call
// with Runtime().Metadata, and call Refresh first so both use the live runtime.
func (c *Client) Sign(ctx context.Context, call extrinsic.Call, s extrinsic.Signer, o SignOptions) ([]byte, error) {
	rt := c.Runtime()
	nonce, err := c.AccountNonce(ctx, s.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("chain: nonce: %w", err)
	}
	p := extrinsic.Params{
		SpecVersion: rt.Version.SpecVersion, TransactionVersion: rt.Version.TransactionVersion,
		GenesisHash: rt.Genesis, BlockHash: rt.Genesis, Nonce: nonce, Tip: o.Tip,
	}
	if !o.Immortal {
		head, err := c.FinalizedHead(ctx)
		if err != nil {
			return nil, fmt.Errorf("chain: finalized head: %w", err)
		}
		h, err := c.Header(ctx, &head)
		if err != nil {
			return nil, fmt.Errorf("chain: finalized header: %w", err)
		}
		period := o.Period
		if period == 0 {
			period = 128
		}
		p.Era = scale.MortalEra(h.Number, period)
		birth := p.Era.Birth(h.Number)
		if birth == h.Number {
			p.BlockHash = head
		} else if p.BlockHash, err = c.BlockHash(ctx, birth); err != nil {
			return nil, fmt.Errorf("chain: era birth block %d: %w", birth, err)
		}
	}
	return extrinsic.Sign(rt.Metadata, call, p, s)
}

// SignAndSubmit signs call (see Sign), submits it, waits for inclusion and returns the block hash
// with the dispatch outcome: a *PoolError if the pool rejects it, ErrTxNotIncluded if it is
// dropped, a *metadata.DispatchError if it fails on chain.
func (c *Client) SignAndSubmit(ctx context.Context, call extrinsic.Call, s extrinsic.Signer, o SignOptions) (Hash, error) {
	ext, err := c.Sign(ctx, call, s, o)
	if err != nil {
		return Hash{}, err
	}
	block, err := c.SubmitAndWaitInBlock(ctx, ext)
	if err != nil {
		return Hash{}, err
	}
	if err := c.ExtrinsicResult(ctx, block, ext); err != nil {
		var de *metadata.DispatchError
		if errors.As(err, &de) {
			return block, err
		}
		return block, fmt.Errorf("chain: included in %v, outcome unknown: %w", block, err)
	}
	return block, nil
}
