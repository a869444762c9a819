package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/miner/internal/config"
)

func runCommit(t *testing.T, f *chainfixture.Fixture, root string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--network", f.N.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "w"}, args...)
	code := commitCmd(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCommitCommand: `miner commit --data` builds set_commitment for the runtime, signs it with
// the hotkey, watches it to inclusion and reads it back; refusals before submitting name the
// limit, failures on chain name the pallet's error.
func TestCommitCommand(t *testing.T) {
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	long := strings.Repeat("x", 513)
	tests := []struct {
		name     string
		events   string
		args     []string
		setup    func(t *testing.T, f *chainfixture.Fixture)
		code     int
		out, err string
		submit   bool
	}{
		{name: "raw", args: []string{"--data", chainfixture.CommitURL}, code: 0,
			out: "committed: Raw23 \"" + chainfixture.CommitURL + "\" on subnet 1 at block 6852691", submit: true},
		{name: "bigraw", args: []string{"--data", strings.Repeat("y", 200)}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			v, _ := commitments.AppendRegistration(nil, commitments.Registration{Block: 6852691, Fields: []commitments.Field{{Kind: commitments.BigRaw, Bytes: bytes.Repeat([]byte("y"), 200)}}})
			f.Set(t, chaintest.InBlock, "Commitments.CommitmentOf", v, chainfixture.Net1(), bobKey[:])
		}, code: 0, out: "commitment  BigRaw (200 bytes)\nrate limit  0 of MaxSpace 3100", submit: true},
		{name: "read back differs", args: []string{"--data", "other"}, code: 1, err: `CommitmentOf holds 1 fields: Raw23 "` + chainfixture.CommitURL, submit: true},
		{name: "too long", args: []string{"--data", long}, code: 1, err: "not submitted: commitments: 513 bytes do not fit: BigRaw holds at most 512 bytes"},
		{name: "space used", args: []string{"--data", chainfixture.CommitURL}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.Set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", scale.AppendU64(scale.AppendU64(nil, (6852691+2)/361), 3050), chainfixture.Net1(), bobKey[:])
		}, code: 1, err: "not submitted: commitments: rate limit (SpaceLimitExceeded): 3050 of MaxSpace 3100 already used"},
		{name: "space limit on chain", events: "Commitments.SpaceLimitExceeded", args: []string{"--data", chainfixture.CommitURL}, code: 1,
			err: "set_commitment failed on chain: dispatch error: Commitments.SpaceLimitExceeded", submit: true},
		{name: "not registered", args: []string{"--data", chainfixture.CommitURL}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.Set(t, chaintest.Block6852690, "Uids", nil, chainfixture.Net1(), bobKey[:])
		}, code: 1, err: "not registered on subnet 1"},
		{name: "no data", code: 2, err: "--data TEXT (or --show) is required"},
		{name: "both", args: []string{"--data", "x", "--show"}, code: 2, err: "not both"},
		{name: "json without show", args: []string{"--data", "x", "--json"}, code: 2, err: "--json goes with --show"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, submitted := chainfixture.CommitFixture(t, tt.events)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			root := pubWallet(t, bob, [32]byte{}, chainfixture.DevKey(t, "//Alice").PublicKey())
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
			d, err := extrinsic.Decode(f.MD, ext)
			if err != nil {
				t.Fatal(err)
			}
			rules, _ := commitments.ReadRules(f.MD)
			field, _ := rules.Text(tt.args[1])
			want, _ := commitments.SetCommitment(f.MD, 1, []commitments.Field{field})
			if !bytes.Equal(d.Call, want) || d.Signer != bobKey {
				t.Errorf("submitted %x by %x; want %x by //Bob", d.Call, d.Signer, []byte(want))
			}
		})
	}
}

// TestCommitShow reads CommitmentOf of the wallet's hotkey or of any SS58 address, as text and
// as JSON, with the rate-limit standing.
func TestCommitShow(t *testing.T) {
	f, _ := chainfixture.CommitFixture(t, "")
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.Set(t, chaintest.Block6852690, "Commitments.CommitmentOf", chainfixture.RawCommitment(t, 6852000, chainfixture.CommitURL), chainfixture.Net1(), bobKey[:])
	f.Set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", scale.AppendU64(scale.AppendU64(nil, (6852691+2)/361), 100), chainfixture.Net1(), bobKey[:])
	root := pubWallet(t, nil, bobKey, chainfixture.DevKey(t, "//Alice").PublicKey())

	code, out, errOut := runCommit(t, f, root, "--hotkey", "h", "--show")
	for _, want := range []string{"hotkey      " + bob.SS58(), "commitment  set at block 6852000, 1 fields", `field 0   Raw23 "` + chainfixture.CommitURL + `"`,
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
		rep.Commitment.Fields[0].Text == nil || *rep.Commitment.Fields[0].Text != chainfixture.CommitURL || rep.RateLimit.Used != 100 || !rep.RateLimit.SpaceLimit {
		t.Errorf("--json = %s", out)
	}

	// Another hotkey, with no commitment.
	alice := chainfixture.DevKey(t, "//Alice").PublicKey()
	f.Set(t, chaintest.Block6852690, "Commitments.CommitmentOf", nil, chainfixture.Net1(), alice[:])
	f.Set(t, chaintest.Block6852690, "Commitments.UsedSpaceOf", nil, chainfixture.Net1(), alice[:])
	code, out, errOut = runCommit(t, f, root, "--hotkey", chainfixture.DevKey(t, "//Alice").SS58(), "--show")
	if code != 0 || !strings.Contains(out, "commitment  none") {
		t.Errorf("exit %d: %s%s", code, out, errOut)
	}
}

// TestChainCommitEndpointOffline: --commit-endpoint without --network is refused
// (chainnode's TestCommitEndpoint publishes it).
func TestChainCommitEndpointOffline(t *testing.T) {
	n := &node{log: slog.New(slog.DiscardHandler), cfg: config.DefaultServe()}
	n.cfg.CommitEndpoint = chainfixture.CommitURL
	if _, err := n.attachChain(context.Background(), nil, nil); err == nil || !strings.Contains(err.Error(), "--commit-endpoint needs --network") {
		t.Errorf("offline with --commit-endpoint: %v", err)
	}
}
