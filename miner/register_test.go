package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/miner/internal/cli"

	"github.com/taominer/taominer/chain/chaintest"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/wallet"
)

// registerFixture is subnet 1 at block 6852690 with //Bob's hotkey unregistered, a burn of
// τ0.5 and //Alice's coldkey holding freeRao.
func registerFixture(t *testing.T, freeRao uint64) *chainfixture.Fixture {
	f := chainfixture.New(t)
	bob, alice := chainfixture.DevKey(t, "//Bob").PublicKey(), chainfixture.DevKey(t, "//Alice").PublicKey()
	f.Set(t, chaintest.Block6852690, "Uids", nil, chainfixture.Net1(), bob[:])
	f.Set(t, chaintest.Block6852690, "Burn", scale.AppendU64(nil, 500_000_000), chainfixture.Net1())
	f.Set(t, chaintest.Block6852690, "System.Account", accountInfo(freeRao), alice[:])
	f.N.ServeSigning(nil)
	return f
}

func runRegister(t *testing.T, f *chainfixture.Fixture, root, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--network", f.N.URL(), "--netuid", "1", "--wallet-path", root, "--wallet", "w", "--hotkey", "h"}, args...)
	code := registerCmd(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// fakeUnlock replaces the Argon2 unlock with //Alice for tests that exercise what comes after it
// (TestRegisterSuccess runs the real one).
func fakeUnlock(t *testing.T) {
	saved := unlockColdkey
	unlockColdkey = func(*wallet.Wallet, []byte) (*wallet.Keypair, error) { return wallet.FromURI("//Alice") }
	t.Cleanup(func() { unlockColdkey = saved })
	t.Setenv(cli.PasswordEnv, "not used")
}

// TestRegisterSuccess registers //Bob's hotkey paying from //Alice's encrypted coldkey (the one
// real Argon2 unlock of these tests, plus one to write it), and reads the UID after inclusion.
func TestRegisterSuccess(t *testing.T) {
	f := registerFixture(t, 2_000_000_000)
	submitted := f.N.IncludeInBlock(chaintest.Events(t, f.MD, ""))
	bob := chainfixture.DevKey(t, "//Bob")
	bobKey := bob.PublicKey()
	f.Set(t, chaintest.InBlock, "Uids", scale.AppendU16(nil, 1023), chainfixture.Net1(), bobKey[:])
	root := t.TempDir()
	w, _ := wallet.Open(root, "w", "h")
	const password = "correct horse"
	if err := w.SetColdkey(chainfixture.DevKey(t, "//Alice"), []byte(password), false); err != nil {
		t.Fatal(err)
	}
	if err := w.SetHotkey(bob, false); err != nil {
		t.Fatal(err)
	}
	t.Setenv(cli.PasswordEnv, password)
	code, out, errOut := runRegister(t, f, root, "y\n")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"burn      τ0.500000000", "free balance τ2.000000000", "submitting burned_register",
		"registered: hotkey " + bob.SS58() + " is UID 1023 on subnet 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[y/N]") {
		t.Errorf("no confirmation asked: %s", errOut)
	}
	d, err := extrinsic.Decode(f.MD, submitted())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := extrinsic.BurnedRegister(f.MD, 1, bobKey)
	if !bytes.Equal(d.Call, want) || d.Signer != chainfixture.DevKey(t, "//Alice").PublicKey() {
		t.Errorf("submitted call %x by %x, want burned_register(1, //Bob) by //Alice", d.Call, d.Signer)
	}
}

// TestRegisterOutcomes: refusals before submitting, and failures named after submitting.
func TestRegisterOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		free     uint64
		stdin    string
		args     []string
		setup    func(t *testing.T, f *chainfixture.Fixture)
		code     int
		out, err string
		submit   bool
	}{
		{name: "already registered", free: 1e9, setup: func(t *testing.T, f *chainfixture.Fixture) {
			bob := chainfixture.DevKey(t, "//Bob").PublicKey()
			f.Set(t, chaintest.Block6852690, "Uids", scale.AppendU16(nil, 42), chainfixture.Net1(), bob[:])
		}, code: 0, out: "already registered on subnet 1", submit: false},
		{name: "declined", free: 1e9, stdin: "n\n", code: 1, err: "declined"},
		{name: "max burn below the price", free: 1e9, args: []string{"--max-burn", "0.4", "--yes"}, code: 1, err: "above --max-burn τ0.400000000"},
		{name: "balance below the burn", free: 1e8, args: []string{"--yes"}, code: 1, err: "below the burn"},
		{name: "NotEnoughBalanceToStake", free: 1e9, args: []string{"--yes"}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.N.IncludeInBlock(chaintest.Events(t, f.MD, "NotEnoughBalanceToStake"))
		}, code: 1, err: "burned_register failed on chain: dispatch error: SubtensorModule.NotEnoughBalanceToStake", submit: true},
		{name: "TooManyRegistrationsThisBlock", free: 1e9, args: []string{"--yes", "--max-burn", "1"}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.N.IncludeInBlock(chaintest.Events(t, f.MD, "TooManyRegistrationsThisBlock"))
		}, code: 1, out: "checked here only: this runtime has no register_limit", err: "SubtensorModule.TooManyRegistrationsThisBlock", submit: true},
		{name: "pool error", free: 1e9, args: []string{"--yes"}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.N.Handle("author_submitAndWatchExtrinsic", func([]json.RawMessage) (string, []string, bool, bool) {
				return `"error":{"code":1010,"message":"Invalid Transaction","data":"Custom error: 2"}`, nil, false, false
			})
		}, code: 1, err: "BalanceTooLow", submit: true},
		{name: "unknown subnet", free: 1e9, args: []string{"--yes"}, setup: func(t *testing.T, f *chainfixture.Fixture) {
			f.Set(t, chaintest.Block6852690, "NetworksAdded", nil, chainfixture.Net1())
		}, code: 1, err: "subnet 1 does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeUnlock(t)
			f := registerFixture(t, tt.free)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			root := pubWallet(t, nil, chainfixture.DevKey(t, "//Bob").PublicKey(), chainfixture.DevKey(t, "//Alice").PublicKey())
			code, out, errOut := runRegister(t, f, root, tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout %s(want %q)\nstderr %s(want %q)", code, tt.code, out, tt.out, errOut, tt.err)
			}
			if got := f.N.Count("author_submitAndWatchExtrinsic") > 0; got != tt.submit {
				t.Errorf("submitted = %v, want %v", got, tt.submit)
			}
		})
	}
}

func TestRegisterUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "--netuid -1"},
		{[]string{"--netuid", "0"}, 2, "root network"},
		{[]string{"--netuid", "1", "--max-burn", "abc"}, 2, "--max-burn"},
		{[]string{"--netuid", "1", "--network", "mars"}, 1, "unknown network"},
		{[]string{"--help"}, 0, "Usage: miner register"},
	}
	for _, tt := range tests {
		root := pubWallet(t, nil, chainfixture.DevKey(t, "//Bob").PublicKey(), chainfixture.DevKey(t, "//Alice").PublicKey())
		var out, errOut bytes.Buffer
		args := append([]string{"--wallet-path", root, "--wallet", "w", "--hotkey", "h"}, tt.args...)
		if code := registerCmd(context.Background(), args, strings.NewReader(""), &out, &errOut); code != tt.code || !strings.Contains(errOut.String(), tt.err) {
			t.Errorf("register %v = %d %s, want %d with %q", tt.args, code, errOut.String(), tt.code, tt.err)
		}
	}
}
