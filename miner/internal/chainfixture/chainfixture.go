// Package chainfixture is test support for the miner's chain code (package main's chain tests
// and miner/internal/chainnode's): the replayed finney node of chain/chaintest (subnet 1 at
// block 6852690, spec 343) with the storage answers a test adds, dev keys, a serve
// configuration following it, and the axon and commitment values the tests publish. Import it
// from _test.go files only.
package chainfixture

import (
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
)

// AxonVersion is the version the miner publishes (chainnode.AxonVersion, which tests check
// against it).
const AxonVersion = 10_002_000

// CommitURL is the endpoint the commitment tests publish.
const CommitURL = "http://203.0.113.7:8000"

// Fixture is the recorded finney node with the storage answers a test adds.
type Fixture struct {
	N  *chaintest.Node
	MD *metadata.Metadata
}

// New starts the replay node with what reading subnet 1 needs (chaintest.CompleteMetagraph,
// tempo 360).
func New(t *testing.T) *Fixture {
	t.Helper()
	f := &Fixture{N: chaintest.NewMetagraph(t), MD: chaintest.Metadata(t)}
	f.N.CompleteMetagraph(f.MD, 360)
	return f
}

// Set answers storage item (pallet SubtensorModule unless item is "Pallet.Item") at block at
// ("" = best block) with value (nil = absent).
func (f *Fixture) Set(t *testing.T, at, item string, value []byte, keys ...[]byte) {
	t.Helper()
	pallet := "SubtensorModule"
	if p, i, ok := strings.Cut(item, "."); ok {
		pallet, item = p, i
	}
	f.N.SetStorage(chaintest.StorageKey(t, f.MD, pallet, item, keys...), at, value)
}

// Net1 is the storage key part of netuid 1.
func Net1() []byte { return scale.AppendU16(nil, 1) }

// DevKey is a dev keypair (//Alice, //Bob, …).
func DevKey(t *testing.T, uri string) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.FromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// Config is a serve config following the replay node as a local (ws://) chain with wallet "w",
// hotkey "h" under root, publishing 203.0.113.9.
func (f *Fixture) Config(root string) config.Serve {
	cfg := config.DefaultServe()
	cfg.Network, cfg.Netuid = f.N.URL(), 1
	cfg.GRPCAddr = "" // tests that speak gRPC ask for a free port
	cfg.WalletPath, cfg.Wallet, cfg.Hotkey = root, "w", "h"
	cfg.ExternalIP = "203.0.113.9"
	return cfg
}

// AxonBytes encodes an AxonInfo storage value.
func AxonBytes(block uint64, version uint32, ip scale.Uint128, port uint16, ipType uint8) []byte {
	b := scale.AppendU64(nil, block)
	b = scale.AppendU32(b, version)
	b = scale.AppendU128(b, ip)
	b = scale.AppendU16(b, port)
	return append(b, ipType, 4, 0, 0)
}

// Ours is the axon the chain tests publish: 203.0.113.9:8091.
func Ours() []byte {
	return AxonBytes(6852690, AxonVersion, scale.Uint128{Lo: 203<<24 | 113<<8 | 9}, 8091, 4)
}

// CommitFixture is subnet 1 at block 6852690 with //Bob's hotkey registered as UID 7, no
// commitment and no space used, ready to include one extrinsic whose events carry errName; the
// inclusion stores CommitURL. submitted returns the extrinsic.
func CommitFixture(t *testing.T, errName string) (f *Fixture, submitted func() []byte) {
	f = New(t)
	bob := DevKey(t, "//Bob").PublicKey()
	for _, at := range []string{chaintest.Block6852690, ""} {
		f.Set(t, at, "Uids", scale.AppendU16(nil, 7), Net1(), bob[:])
		f.Set(t, at, "Commitments.CommitmentOf", nil, Net1(), bob[:])
	}
	f.Set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", nil, Net1(), bob[:])
	f.Set(t, chaintest.Block6852690, "Commitments.MaxSpace", nil)
	f.N.ServeSigning(nil)
	submitted = f.N.IncludeInBlock(chaintest.Events(t, f.MD, errName))
	f.Set(t, chaintest.InBlock, "Commitments.CommitmentOf", RawCommitment(t, 6852691, CommitURL), Net1(), bob[:])
	return f, submitted
}

// RawCommitment encodes a CommitmentOf value holding text as one Raw field.
func RawCommitment(t *testing.T, block uint32, text string) []byte {
	t.Helper()
	b, err := commitments.AppendRegistration(nil, commitments.Registration{Block: block, Fields: []commitments.Field{{Kind: commitments.Raw, Bytes: []byte(text)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
