package commitments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/client"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/wallet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The replay node's best block is 6852690, so a commitment lands in 6852691: with subnet 1's
// tempo 360 that is epoch (6852691 + 2) / 361, whose budget resets 361 - (6852693 % 361) blocks
// later.
const (
	epoch       = (6852691 + 2) / 361
	nextEpochIn = 361 - (6852691+2)%361
)

// node is the recorded finney node (spec 343, subnet 1 at block 6852690) ready to sign and include
// extrinsics, with //Bob's hotkey.
type node struct {
	n         *chaintest.Node
	md        *metadata.Metadata
	c         *client.Client
	bob       *wallet.Keypair
	submitted func() []byte // the last extrinsic submitted, nil before any
}

func newNode(t *testing.T, events string) *node {
	t.Helper()
	n := chaintest.NewMetagraph(t)
	md := chaintest.Metadata(t)
	n.CompleteMetagraph(md, 360)
	n.ServeSigning(nil)
	submitted := n.IncludeInBlock(chaintest.Events(t, md, events))
	bob, err := wallet.FromURI("//Bob")
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{n: n, md: md, c: chaintest.Connect(t, n.URL()), bob: bob, submitted: submitted}
	// Not recorded: the rate-limit items, absent unless a test sets them.
	nd.set(t, chaintest.Block6852690, "MaxSpace", nil, false)
	nd.set(t, chaintest.Block6852690, "UsedSpaceOf", nil, true)
	return nd
}

// set answers Commitments.item(1, //Bob) (or the plain item with no keys) at block at ("" = best
// block) with value (nil = absent).
func (nd *node) set(t *testing.T, at, item string, value []byte, keyed bool) {
	t.Helper()
	var keys [][]byte
	if keyed {
		pub := nd.bob.PublicKey()
		keys = [][]byte{scale.AppendU16(nil, 1), pub[:]}
	}
	nd.n.SetStorage(chaintest.StorageKey(t, nd.md, "Commitments", item, keys...), at, value)
}

func registration(t *testing.T, block uint32, fields ...commitments.Field) []byte {
	t.Helper()
	b, err := commitments.AppendRegistration(nil, commitments.Registration{Block: block, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func usedSpace(epoch, used uint64) []byte { return scale.AppendU64(scale.AppendU64(nil, epoch), used) }

func rawField(s string) commitments.Field {
	return commitments.Field{Kind: commitments.Raw, Bytes: []byte(s)}
}

const url = "http://203.0.113.7:8000"

func TestReadUsage(t *testing.T) {
	nd := newNode(t, "")
	ctx := context.Background()
	u, err := commitments.ReadUsage(ctx, nd.c, 1, nd.bob.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	// MaxSpace absent: its default, 3100.
	want := commitments.Usage{Block: 6852690, SpaceLimit: true, Epoch: epoch, MaxSpace: 3100, NextEpochIn: nextEpochIn}
	if u != want {
		t.Errorf("usage = %+v\nwant    %+v", u, want)
	}
	nd.set(t, chaintest.Block6852690, "UsedSpaceOf", usedSpace(epoch, 3000), true)
	nd.set(t, chaintest.Block6852690, "MaxSpace", scale.AppendU32(nil, 3200), false)
	if u, err = commitments.ReadUsage(ctx, nd.c, 1, nd.bob.PublicKey()); err != nil || u.Used != 3000 || u.MaxSpace != 3200 {
		t.Errorf("usage = %+v, %v", u, err)
	}
	// Space used in an earlier epoch does not count.
	nd.set(t, chaintest.Block6852690, "UsedSpaceOf", usedSpace(epoch-1, 3100), true)
	if u, err = commitments.ReadUsage(ctx, nd.c, 1, nd.bob.PublicKey()); err != nil || u.Used != 0 {
		t.Errorf("usage = %+v, %v", u, err)
	}
	nd.set(t, chaintest.Block6852690, "UsedSpaceOf", []byte{1, 2, 3}, true)
	if _, err = commitments.ReadUsage(ctx, nd.c, 1, nd.bob.PublicKey()); err == nil || !strings.Contains(err.Error(), "decode UsedSpaceOf") {
		t.Errorf("corrupt UsedSpaceOf: %v", err)
	}
}

func TestUsageCheck(t *testing.T) {
	tests := []struct {
		u    commitments.Usage
		cost uint64
		err  string
	}{
		{commitments.Usage{SpaceLimit: true, Used: 3000, MaxSpace: 3100}, 100, ""},
		{commitments.Usage{SpaceLimit: true, Used: 3001, MaxSpace: 3100, Epoch: 7, NextEpochIn: 42}, 100,
			"rate limit (SpaceLimitExceeded): 3001 of MaxSpace 3100 already used in subnet epoch 7, this commitment costs 100; the budget resets in about 42 blocks"},
		// Spec 218: one commitment per RateLimit (100) blocks.
		{commitments.Usage{Block: 1000, RateLimit: 100}, 100, ""},
		{commitments.Usage{Block: 1000, LastCommit: 950, RateLimit: 100}, 100,
			"rate limit (CommitmentSetRateLimitExceeded): last commitment at block 950, the runtime's RateLimit allows one every 100 blocks; wait 49 more blocks"},
		{commitments.Usage{Block: 1049, LastCommit: 950, RateLimit: 100}, 100, ""},
	}
	for _, tt := range tests {
		err := tt.u.Check(tt.cost)
		var rl *commitments.RateLimitError
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Check(%+v) = %v", tt.u, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, commitments.ErrRateLimited) || !errors.As(err, &rl)):
			t.Errorf("Check(%+v) = %v\nwant %s", tt.u, err, tt.err)
		}
	}
}

// TestCommit: set_commitment is built, signed by the hotkey, watched to inclusion and read back;
// a rate-limited commitment is refused before submitting; a dispatch error is named by the pallet.
func TestCommit(t *testing.T) {
	fields := []commitments.Field{rawField(url)}
	tests := []struct {
		name      string
		events    string
		used      []byte
		stored    []byte // CommitmentOf in the inclusion block
		submitted bool
		err       string
	}{
		{"included", "", nil, nil, true, ""},
		{"used space of an older epoch", "", usedSpace(epoch-1, 3100), nil, true, ""},
		{"space limit", "", usedSpace(epoch, 3001), nil, false, "rate limit (SpaceLimitExceeded): 3001 of MaxSpace 3100"},
		{"space limit on chain", "Commitments.SpaceLimitExceeded", nil, nil, true, "dispatch error: Commitments.SpaceLimitExceeded"},
		{"not registered", "Commitments.AccountNotAllowedCommit", nil, nil, true, "Commitments.AccountNotAllowedCommit"},
		{"read back differs", "", nil, registration(t, 6852691, rawField("other")), true, `CommitmentOf holds 1 fields: Raw5 "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nd := newNode(t, tt.events)
			if tt.used != nil {
				nd.set(t, chaintest.Block6852690, "UsedSpaceOf", tt.used, true)
			}
			stored := tt.stored
			if stored == nil {
				stored = registration(t, 6852691, fields...)
			}
			nd.set(t, chaintest.InBlock, "CommitmentOf", stored, true)
			res, err := commitments.Commit(context.Background(), nd.c, nd.bob, 1, fields)
			got := nd.submitted()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Commit = %v, want %q", err, tt.err)
			}
			if (got != nil) != tt.submitted {
				t.Fatalf("submitted = %v, want %v", got != nil, tt.submitted)
			}
			if tt.err == "" && (res.Block.String() != chaintest.InBlock || !commitments.SameFields(res.Stored, fields) || res.Stored.Block != 6852691) {
				t.Errorf("result = %+v", res)
			}
			if got != nil {
				d, err := extrinsic.Decode(nd.md, got)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := commitments.SetCommitment(nd.md, 1, fields)
				if !bytes.Equal(d.Call, want) || d.Signer != nd.bob.PublicKey() || d.Nonce != 5 {
					t.Errorf("submitted %x by %x nonce %d; want %x by //Bob", d.Call, d.Signer, d.Nonce, []byte(want))
				}
			}
		})
	}
}

// TestKeeper: the keeper commits only when the chain holds something else, waits out the rate
// limit instead of submitting, and reports what it saw.
func TestKeeper(t *testing.T) {
	tests := []struct {
		name      string
		onChain   []byte
		used      []byte
		ready     error
		published bool
		submitted bool
		wait      time.Duration
		err       string
	}{
		{"already published", registration(t, 6852000, rawField(url)), nil, nil, true, false, 0, ""},
		{"never committed", nil, nil, nil, true, true, 0, ""},
		{"differs", registration(t, 6852000, rawField("http://198.51.100.1:8000")), nil, nil, true, true, 0, ""},
		{"extra field", registration(t, 6852000, rawField(url), commitments.Field{Kind: commitments.ResetBondsFlag}), nil, nil, true, true, 0, ""},
		{"rate limited", nil, usedSpace(epoch, 3050), nil, false, false, (nextEpochIn + 1) * 12 * time.Second, "SpaceLimitExceeded"},
		{"not ready", nil, nil, errors.New("hotkey not registered"), false, false, 0, "hotkey not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nd := newNode(t, "")
			nd.set(t, "", "CommitmentOf", tt.onChain, true)
			if tt.used != nil {
				nd.set(t, chaintest.Block6852690, "UsedSpaceOf", tt.used, true)
			}
			nd.set(t, chaintest.InBlock, "CommitmentOf", registration(t, 6852691, rawField(url)), true)
			k, err := commitments.NewKeeper(nd.c, nd.bob, 1, url, commitments.KeeperOptions{Ready: func() error { return tt.ready }})
			if err != nil {
				t.Fatal(err)
			}
			ok, wait := k.Ensure(context.Background())
			st := k.Status()
			if ok != tt.published || wait != tt.wait || ok != k.Published() || st.Published != ok {
				t.Errorf("Ensure = %v, %v; want %v, %v", ok, wait, tt.published, tt.wait)
			}
			if submitted := nd.n.Count("author_submitAndWatchExtrinsic") > 0; submitted != tt.submitted {
				t.Errorf("submitted = %v, want %v", submitted, tt.submitted)
			}
			body, _ := json.Marshal(st)
			if !strings.Contains(st.Error, tt.err) || (tt.err == "") != (st.Error == "") {
				t.Errorf("status %s, want error %q", body, tt.err)
			}
			if tt.published && (st.OnChain == nil || *st.OnChain != url) {
				t.Errorf("status %s, want on_chain %s", body, url)
			}
		})
	}
	if _, err := commitments.NewKeeper(nil, nil, 1, strings.Repeat("x", 129), commitments.KeeperOptions{}); !errors.Is(err, commitments.ErrTooLong) ||
		!strings.Contains(err.Error(), "Raw128") {
		t.Errorf("NewKeeper(129 bytes) = %v", err)
	}
}
