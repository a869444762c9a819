package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/miner/internal/config"
)

const commitURL = "http://203.0.113.7:8000"

// commitFixture is subnet 1 at block 6852690 with //Bob's hotkey registered as UID 7, no
// commitment and no space used, ready to include one extrinsic whose events carry errName.
func commitFixture(t *testing.T, errName string) (*chainFixture, func() []byte) {
	f := newChainFixture(t)
	bob := devKey(t, "//Bob").PublicKey()
	for _, at := range []string{chaintest.Block6852690, ""} {
		f.set(t, at, "Uids", scale.AppendU16(nil, 7), net1(), bob[:])
		f.set(t, at, "Commitments.CommitmentOf", nil, net1(), bob[:])
	}
	f.set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", nil, net1(), bob[:])
	f.set(t, chaintest.Block6852690, "Commitments.MaxSpace", nil)
	f.n.ServeSigning(nil)
	submitted := f.n.IncludeInBlock(chaintest.Events(t, f.md, errName))
	f.set(t, chaintest.InBlock, "Commitments.CommitmentOf", rawCommitment(t, 6852691, commitURL), net1(), bob[:])
	return f, submitted
}

// rawCommitment encodes a CommitmentOf value holding text as one Raw field.
func rawCommitment(t *testing.T, block uint32, text string) []byte {
	t.Helper()
	b, err := commitments.AppendRegistration(nil, commitments.Registration{Block: block, Fields: []commitments.Field{{Kind: commitments.Raw, Bytes: []byte(text)}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runCommit(t *testing.T, f *chainFixture, root string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--network", f.n.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "w"}, args...)
	code := commitCmd(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCommitCommand: `miner commit --data` builds set_commitment for the runtime, signs it with
// the hotkey, watches it to inclusion and reads it back; refusals before submitting name the
// limit, failures on chain name the pallet's error.
func TestCommitCommand(t *testing.T) {
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	long := strings.Repeat("x", 513)
	tests := []struct {
		name     string
		events   string
		args     []string
		setup    func(t *testing.T, f *chainFixture)
		code     int
		out, err string
		submit   bool
	}{
		{name: "raw", args: []string{"--data", commitURL}, code: 0,
			out: "committed: Raw23 \"" + commitURL + "\" on subnet 1 at block 6852691", submit: true},
		{name: "bigraw", args: []string{"--data", strings.Repeat("y", 200)}, setup: func(t *testing.T, f *chainFixture) {
			v, _ := commitments.AppendRegistration(nil, commitments.Registration{Block: 6852691, Fields: []commitments.Field{{Kind: commitments.BigRaw, Bytes: bytes.Repeat([]byte("y"), 200)}}})
			f.set(t, chaintest.InBlock, "Commitments.CommitmentOf", v, net1(), bobKey[:])
		}, code: 0, out: "commitment  BigRaw (200 bytes)\nrate limit  0 of MaxSpace 3100", submit: true},
		{name: "read back differs", args: []string{"--data", "other"}, code: 1, err: `CommitmentOf holds 1 fields: Raw23 "` + commitURL, submit: true},
		{name: "too long", args: []string{"--data", long}, code: 1, err: "not submitted: commitments: 513 bytes do not fit: BigRaw holds at most 512 bytes"},
		{name: "space used", args: []string{"--data", commitURL}, setup: func(t *testing.T, f *chainFixture) {
			f.set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", scale.AppendU64(scale.AppendU64(nil, (6852691+2)/361), 3050), net1(), bobKey[:])
		}, code: 1, err: "not submitted: commitments: rate limit (SpaceLimitExceeded): 3050 of MaxSpace 3100 already used"},
		{name: "space limit on chain", events: "Commitments.SpaceLimitExceeded", args: []string{"--data", commitURL}, code: 1,
			err: "set_commitment failed on chain: dispatch error: Commitments.SpaceLimitExceeded", submit: true},
		{name: "not registered", args: []string{"--data", commitURL}, setup: func(t *testing.T, f *chainFixture) {
			f.set(t, chaintest.Block6852690, "Uids", nil, net1(), bobKey[:])
		}, code: 1, err: "not registered on subnet 1"},
		{name: "no data", code: 2, err: "--data TEXT (or --show) is required"},
		{name: "both", args: []string{"--data", "x", "--show"}, code: 2, err: "not both"},
		{name: "json without show", args: []string{"--data", "x", "--json"}, code: 2, err: "--json goes with --show"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, submitted := commitFixture(t, tt.events)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			root := pubWallet(t, bob, [32]byte{}, devKey(t, "//Alice").PublicKey())
			code, out, errOut := runCommit(t, f, root, append([]string{"--hotkey", "h"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout %s(want %q)\nstderr %s(want %q)", code, tt.code, out, tt.out, errOut, tt.err)
			}
			ext := submitted()
			if (ext != nil) != tt.submit {
				t.Fatalf("submitted = %v, want %v", ext != nil, tt.submit)
			}
			if ext == nil {
				return
			}
			d, err := extrinsic.Decode(f.md, ext)
			if err != nil {
				t.Fatal(err)
			}
			rules, _ := commitments.ReadRules(f.md)
			field, _ := rules.Text(tt.args[1])
			want, _ := commitments.SetCommitment(f.md, 1, []commitments.Field{field})
			if !bytes.Equal(d.Call, want) || d.Signer != bobKey {
				t.Errorf("submitted %x by %x; want %x by //Bob", d.Call, d.Signer, []byte(want))
			}
		})
	}
}

// TestCommitShow reads CommitmentOf of the wallet's hotkey or of any SS58 address, as text and
// as JSON, with the rate-limit standing.
func TestCommitShow(t *testing.T) {
	f, _ := commitFixture(t, "")
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.set(t, chaintest.Block6852690, "Commitments.CommitmentOf", rawCommitment(t, 6852000, commitURL), net1(), bobKey[:])
	f.set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", scale.AppendU64(scale.AppendU64(nil, (6852691+2)/361), 100), net1(), bobKey[:])
	root := pubWallet(t, nil, bobKey, devKey(t, "//Alice").PublicKey())

	code, out, errOut := runCommit(t, f, root, "--hotkey", "h", "--show")
	for _, want := range []string{"hotkey      " + bob.SS58(), "commitment  set at block 6852000, 1 fields", `field 0   Raw23 "` + commitURL + `"`,
		"rate limit  100 of MaxSpace 3100 used in subnet epoch 18982"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, stdout lacks %q:\n%s%s", code, want, out, errOut)
		}
	}

	code, out, errOut = runCommit(t, f, root, "--hotkey", bob.SS58(), "--show", "--json")
	var rep struct {
		Hotkey     string
		Commitment *struct {
			Block  uint32
			Fields []struct {
				Variant, Hex string
				Text         *string
			}
		}
		RateLimit commitments.Usage `json:"rate_limit"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s%s", code, err, out, errOut)
	}
	if rep.Hotkey != bob.SS58() || rep.Commitment == nil || len(rep.Commitment.Fields) != 1 || rep.Commitment.Fields[0].Variant != "Raw23" ||
		rep.Commitment.Fields[0].Text == nil || *rep.Commitment.Fields[0].Text != commitURL || rep.RateLimit.Used != 100 || !rep.RateLimit.SpaceLimit {
		t.Errorf("--json = %s", out)
	}

	// Another hotkey, with no commitment.
	alice := devKey(t, "//Alice").PublicKey()
	f.set(t, chaintest.Block6852690, "Commitments.CommitmentOf", nil, net1(), alice[:])
	f.set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", nil, net1(), alice[:])
	code, out, errOut = runCommit(t, f, root, "--hotkey", devKey(t, "//Alice").SS58(), "--show")
	if code != 0 || !strings.Contains(out, "commitment  none") {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
}

// TestChainCommitEndpoint: serve's chain node publishes --commit-endpoint when the chain holds
// something else and reports it in GET /v1/chain and the gauges; offline it is refused.
func TestChainCommitEndpoint(t *testing.T) {
	f, submitted := commitFixture(t, "")
	bob := devKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.set(t, chaintest.Block6852690, "Axons", ours(), net1(), bobKey[:])
	f.set(t, "", "Commitments.CommitmentOf", rawCommitment(t, 6852000, "http://198.51.100.1:8000"), net1(), bobKey[:])
	cfg := chainConfig(f, t.TempDir())
	cfg.CommitEndpoint = commitURL
	cn, err := startChain(context.Background(), cfg, bob, slog.New(slog.DiscardHandler), testChainOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	if ok, _ := cn.commit.Ensure(context.Background()); !ok {
		t.Fatalf("not published: %+v", cn.commit.Status())
	}
	d, err := extrinsic.Decode(f.md, submitted())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := commitments.SetCommitment(f.md, 1, []commitments.Field{{Kind: commitments.Raw, Bytes: []byte(commitURL)}})
	if !bytes.Equal(d.Call, want) || d.Signer != bobKey {
		t.Errorf("submitted %x by %x", d.Call, d.Signer)
	}
	st, _ := cn.ChainStatus(context.Background())
	body, _ := json.Marshal(st)
	if !strings.Contains(string(body), `"commitment":{"ours":"`+commitURL+`","on_chain":"`+commitURL+`","on_chain_block":6852691,"published":true}`) {
		t.Errorf("GET /v1/chain = %s", body)
	}

	cfg.CommitEndpoint = "http://" + strings.Repeat("x", 130)
	if _, err := startChain(context.Background(), cfg, bob, slog.New(slog.DiscardHandler), testChainOptions()); err == nil ||
		!strings.Contains(err.Error(), "--commit-endpoint: commitments: 137 bytes do not fit: Raw128 is the largest Raw variant") {
		t.Errorf("long endpoint: %v", err)
	}
	n := &node{log: slog.New(slog.DiscardHandler), cfg: config.DefaultServe()}
	n.cfg.CommitEndpoint = commitURL
	if _, err := n.attachChain(context.Background(), nil, nil); err == nil || !strings.Contains(err.Error(), "--commit-endpoint needs --network") {
		t.Errorf("offline with --commit-endpoint: %v", err)
	}
}
