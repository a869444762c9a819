// Package client is the typed subtensor client: it reads the runtime version, genesis hash and
// metadata at start (and again after a runtime upgrade), reads storage and calls runtime APIs,
// and signs, submits and follows extrinsics. It talks JSON-RPC through a Transport, normally an
// *rpc.Client; tests attach an in-process server.
//
// Client.At(block) is the domain layer over raw storage, what go-ethereum's ethclient is to its
// rpc client: State's getters read a hotkey's UID, an axon, a balance, the burn, the serving rate
// limit, a subnet's tempo, size and stake as typed values, and State.Query batches many reads of
// one block. chain/metagraph, chain/yuma, chain/commitments and the miner command read the chain
// through it; none of them builds storage reads of its own.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/rpc"
	"github.com/taominer/taominer/chain/scale"
)

// Transport is what the client needs from the JSON-RPC layer (*rpc.Client implements it).
type Transport interface {
	Call(ctx context.Context, method string, result any, params ...any) error
	Subscribe(ctx context.Context, method, unsubMethod string, params ...any) (*rpc.Subscription, error)
}

// ErrNotFound is returned (wrapped) when the node has no block for a number or hash asked for.
var ErrNotFound = errors.New("chain: not found")

// Runtime is what the client knows about the chain's current runtime. It is immutable: after an
// upgrade the client swaps in a new one.
type Runtime struct {
	Version  RuntimeVersion
	Genesis  Hash
	Metadata *metadata.Metadata
}

// Options tune a Client.
type Options struct {
	Logger *slog.Logger // nil discards
}

// Client is a typed subtensor client. It is safe for concurrent use.
type Client struct {
	t   Transport
	log *slog.Logger

	mu sync.RWMutex
	rt *Runtime
}

// New reads the genesis hash, the runtime version and the metadata (the newest of v16, v15 and
// v14 the runtime offers) and returns a ready client.
func New(ctx context.Context, t Transport, opts Options) (*Client, error) {
	c := &Client{t: t, log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	genesis, err := c.BlockHash(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("chain: genesis hash: %w", err)
	}
	rv, err := c.RuntimeVersionAt(ctx, nil)
	if err != nil {
		return nil, err
	}
	md, err := c.loadMetadata(ctx)
	if err != nil {
		return nil, err
	}
	c.rt = &Runtime{Version: rv, Genesis: genesis, Metadata: md}
	c.log.Info("chain: connected", "spec", rv.SpecName, "spec_version", rv.SpecVersion, "metadata", md.Version, "genesis", genesis)
	return c, nil
}

// Runtime returns the current runtime snapshot.
func (c *Client) Runtime() *Runtime {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rt
}

// Refresh re-reads the runtime version and, when the spec version changed (a runtime upgrade),
// the metadata. It reports whether the runtime changed. Call it before building extrinsics and
// periodically (e.g. on each new block or metagraph sync).
func (c *Client) Refresh(ctx context.Context) (bool, error) {
	rv, err := c.RuntimeVersionAt(ctx, nil)
	if err != nil {
		return false, err
	}
	old := c.Runtime()
	if rv.SpecVersion == old.Version.SpecVersion && rv.TransactionVersion == old.Version.TransactionVersion {
		return false, nil
	}
	md, err := c.loadMetadata(ctx)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	c.rt = &Runtime{Version: rv, Genesis: old.Genesis, Metadata: md}
	c.mu.Unlock()
	c.log.Info("chain: runtime upgraded", "from", old.Version.SpecVersion, "to", rv.SpecVersion, "metadata", md.Version)
	return true, nil
}

// loadMetadata asks for metadata v16, then v15 (Metadata_metadata_at_version), and falls back to
// state_getMetadata (v14).
func (c *Client) loadMetadata(ctx context.Context) (*metadata.Metadata, error) {
	for _, v := range []uint32{16, 15} {
		raw, err := c.StateCall(ctx, "Metadata_metadata_at_version", scale.AppendU32(nil, v), nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			c.log.Debug("chain: metadata_at_version unavailable", "version", v, "err", err)
			continue
		}
		md, err := metadata.DecodeOpaque(raw)
		if errors.Is(err, metadata.ErrUnsupportedVersion) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("chain: metadata v%d: %w", v, err)
		}
		return md, nil
	}
	var raw Bytes
	if err := c.t.Call(ctx, "state_getMetadata", &raw); err != nil {
		return nil, fmt.Errorf("chain: state_getMetadata: %w", err)
	}
	md, err := metadata.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("chain: state_getMetadata: %w", err)
	}
	return md, nil
}

func atParams(first []any, at *Hash) []any {
	if at != nil {
		return append(first, *at)
	}
	return first
}

// BlockHash returns the hash of block n (0 = genesis).
func (c *Client) BlockHash(ctx context.Context, n uint64) (Hash, error) {
	var h *Hash
	if err := c.t.Call(ctx, "chain_getBlockHash", &h, n); err != nil {
		return Hash{}, err
	}
	if h == nil {
		return Hash{}, fmt.Errorf("%w: block %d", ErrNotFound, n)
	}
	return *h, nil
}

// FinalizedHead returns the hash of the latest finalized block.
func (c *Client) FinalizedHead(ctx context.Context) (Hash, error) {
	var h Hash
	err := c.t.Call(ctx, "chain_getFinalizedHead", &h)
	return h, err
}

// Header returns the header of block at (nil = best block).
func (c *Client) Header(ctx context.Context, at *Hash) (Header, error) {
	var h *Header
	var p any
	if at != nil {
		p = *at
	}
	if err := c.t.Call(ctx, "chain_getHeader", &h, p); err != nil {
		return Header{}, err
	}
	if h == nil {
		return Header{}, fmt.Errorf("%w: header of %v", ErrNotFound, at)
	}
	return *h, nil
}

// RuntimeVersionAt returns the runtime version at block at (nil = best block).
func (c *Client) RuntimeVersionAt(ctx context.Context, at *Hash) (RuntimeVersion, error) {
	var rv RuntimeVersion
	if err := c.t.Call(ctx, "state_getRuntimeVersion", &rv, atParams(nil, at)...); err != nil {
		return rv, err
	}
	return rv, nil
}

// Storage reads a raw storage value at block at (nil = best block); ok is false when the key
// holds no value.
func (c *Client) Storage(ctx context.Context, key []byte, at *Hash) (value []byte, ok bool, err error) {
	var v *Bytes
	if err := c.t.Call(ctx, "state_getStorage", &v, atParams([]any{Bytes(key)}, at)...); err != nil {
		return nil, false, err
	}
	if v == nil {
		return nil, false, nil
	}
	return *v, true, nil
}

// StateCall calls runtime API method ("<Api>_<method>") with SCALE-encoded args at block at
// (nil = best block) and returns the SCALE-encoded result. When the runtime lacks the method the
// error satisfies rpc.IsRuntimeAPIUnavailable; callers fall back to storage reads.
func (c *Client) StateCall(ctx context.Context, method string, args []byte, at *Hash) ([]byte, error) {
	var v Bytes
	if err := c.t.Call(ctx, "state_call", &v, atParams([]any{method, Bytes(args)}, at)...); err != nil {
		return nil, err
	}
	return v, nil
}

// AccountNonce returns the account's next nonce from the runtime (AccountNonceApi), which does
// not count transactions still in the pool.
func (c *Client) AccountNonce(ctx context.Context, account [32]byte) (uint32, error) {
	raw, err := c.StateCall(ctx, "AccountNonceApi_account_nonce", account[:], nil)
	if err != nil {
		return 0, err
	}
	d := scale.NewDecoder(raw)
	n := d.U32()
	if err := d.Finish(); err != nil {
		return 0, fmt.Errorf("chain: account nonce: %w", err)
	}
	return n, nil
}

// AccountNextIndex returns the next nonce including transactions in the node's pool
// (system_accountNextIndex; the account is given in SS58).
func (c *Client) AccountNextIndex(ctx context.Context, ss58 string) (uint32, error) {
	var n uint32
	err := c.t.Call(ctx, "system_accountNextIndex", &n, ss58)
	return n, err
}
