package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/miner/internal/cli"
	"github.com/taominer/taominer/miner/internal/walletcmd"
)

const walletTestPassword = "correct horse battery"

// runWallet runs `miner wallet args...` in-process.
func runWallet(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"wallet"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func showJSON(t *testing.T, root, name, hotkey string) walletcmd.ShowJSON {
	t.Helper()
	code, out, errOut := runWallet(t, "show", "--json", "--wallet-path", root, "--wallet", name, "--hotkey", hotkey)
	if code != 0 {
		t.Fatalf("show --json: exit %d: %s", code, errOut)
	}
	var got walletcmd.ShowJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("show --json output %q: %v", out, err)
	}
	return got
}

// fileState records bytes and mtimes of every file under dir.
func fileState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		state[p] = info.ModTime().Format(time.RFC3339Nano) + " " + info.Mode().String() + " " + string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func sameState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWalletNew creates both keys (one Argon2i derivation).
func TestWalletNew(t *testing.T) {
	t.Setenv(cli.PasswordEnv, walletTestPassword)
	root := filepath.Join(t.TempDir(), "wallets")
	code, out, errOut := runWallet(t, "new", "--wallet-path", root, "--wallet", "w", "--hotkey", "h")
	if code != 0 {
		t.Fatalf("new: exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "mnemonic: "); n != 2 || !strings.Contains(out, "Write this mnemonic down") {
		t.Errorf("new printed %d mnemonics, want 2 with a warning:\n%s", n, out)
	}
	for _, p := range []string{"w/coldkey", "w/coldkeypub.txt", "w/hotkeys/h", "w/hotkeys/hpub.txt"} {
		info, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, info.Mode().Perm())
		}
	}
	for _, d := range []string{root, filepath.Join(root, "w"), filepath.Join(root, "w", "hotkeys")} {
		if info, err := os.Stat(d); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, info.Mode().Perm(), err)
		}
	}
	cold, _ := os.ReadFile(filepath.Join(root, "w", "coldkey"))
	if !bytes.HasPrefix(cold, []byte("$NACL")) {
		t.Errorf("coldkey is not $NACL-encrypted: %q", cold[:10])
	}
	hot, _ := os.ReadFile(filepath.Join(root, "w", "hotkeys", "h"))
	if !bytes.Contains(hot, []byte(`"secretPhrase"`)) {
		t.Errorf("hotkey is not a plaintext keyfile: %s", hot)
	}
	got := showJSON(t, root, "w", "h")
	if got.Wallet != "w" || got.Hotkey != "h" || !strings.HasPrefix(got.ColdkeySS58, "5") || !strings.HasPrefix(got.HotkeySS58, "5") || got.ColdkeySS58 == got.HotkeySS58 {
		t.Errorf("show --json = %+v", got)
	}
	if strings.Contains(out, got.ColdkeySS58) == false || strings.Contains(out, got.HotkeySS58) == false {
		t.Errorf("new output does not name the addresses:\n%s", out)
	}
	// Existing keys are refused without --overwrite, before any password work.
	before := fileState(t, root)
	code, _, errOut = runWallet(t, "new", "--hot", "--wallet-path", root, "--wallet", "w", "--hotkey", "h")
	if code != 1 || !strings.Contains(errOut, "--overwrite") {
		t.Errorf("new over existing: exit %d, stderr %q", code, errOut)
	}
	if !sameState(before, fileState(t, root)) {
		t.Errorf("refused new changed files")
	}
	code, _, errOut = runWallet(t, "new", "--hot", "--overwrite", "--wallet-path", root, "--wallet", "w", "--hotkey", "h")
	if code != 0 {
		t.Fatalf("new --hot --overwrite: exit %d: %s", code, errOut)
	}
	if again := showJSON(t, root, "w", "h"); again.HotkeySS58 == got.HotkeySS58 || again.ColdkeySS58 != got.ColdkeySS58 {
		t.Errorf("after new --hot --overwrite: %+v (was %+v)", again, got)
	}
}

// TestWalletRegenUnlock regenerates //Bob as a coldkey, then unlocks it with
// the right and a wrong password (three Argon2i derivations).
func TestWalletRegenUnlock(t *testing.T) {
	root := t.TempDir()
	t.Setenv(cli.PasswordEnv, walletTestPassword)
	code, out, errOut := runWallet(t, "regen", "--cold", "--uri", "//Bob", "--wallet-path", root, "--wallet", "bob")
	if code != 0 || !strings.Contains(out, "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty") {
		t.Fatalf("regen --cold: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	pub, _ := os.ReadFile(filepath.Join(root, "bob", "coldkeypub.txt"))
	wantPub := `{"accountId":"0x8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48","publicKey":"0x8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48","ss58Address":"5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"}`
	if string(pub) != wantPub {
		t.Errorf("coldkeypub.txt = %s, want %s", pub, wantPub)
	}
	code, out, errOut = runWallet(t, "show", "--unlock", "--json", "--wallet-path", root, "--wallet", "bob")
	if code != 0 {
		t.Fatalf("show --unlock: exit %d: %s", code, errOut)
	}
	var got walletcmd.ShowJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || !got.ColdkeyUnlocked || got.ColdkeySS58 != "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty" || got.HotkeySS58 != "" {
		t.Errorf("show --unlock --json = %s (%v)", out, err)
	}
	before := fileState(t, root)
	t.Setenv(cli.PasswordEnv, "wrong password")
	code, out, errOut = runWallet(t, "show", "--unlock", "--wallet-path", root, "--wallet", "bob")
	if code != 1 || !strings.Contains(errOut, "wrong password") || out != "" {
		t.Errorf("wrong password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !sameState(before, fileState(t, root)) {
		t.Errorf("wrong password changed files")
	}
}

func TestWalletRegenHotAndShow(t *testing.T) {
	root := t.TempDir()
	code, out, errOut := runWallet(t, "regen", "--hot", "--uri", "//Alice", "--wallet-path", root)
	if code != 0 || !strings.Contains(out, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY") {
		t.Fatalf("regen --hot --uri: exit %d, %q, %q", code, out, errOut)
	}
	// Hotkey-only wallet: the coldkey is an empty string.
	got := showJSON(t, root, "default", "default")
	want := walletcmd.ShowJSON{Wallet: "default", Hotkey: "default", HotkeySS58: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"}
	if got != want {
		t.Errorf("show --json = %+v, want %+v", got, want)
	}
	code, _, errOut = runWallet(t, "regen", "--hot", "--mnemonic", "old leopard transfer rib spatial phone calm indicate online fire caution review", "--wallet-path", root)
	if code != 1 || !strings.Contains(errOut, "--overwrite") {
		t.Errorf("regen over existing: exit %d, %q", code, errOut)
	}
	code, _, errOut = runWallet(t, "regen", "--hot", "--overwrite", "--mnemonic", "old leopard transfer rib spatial phone calm indicate online fire caution review", "--wallet-path", root)
	if code != 0 {
		t.Fatalf("regen --overwrite: exit %d: %s", code, errOut)
	}
	if got := showJSON(t, root, "default", "default"); got.HotkeySS58 != "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX" {
		t.Errorf("after regen --mnemonic: %+v", got)
	}
	code, _, _ = runWallet(t, "regen", "--hot", "--uri", "//Bob/test", "--wallet-path", root, "--hotkey", "soft")
	if code != 0 {
		t.Errorf("regen //Bob/test: exit %d", code)
	}
	code, out, _ = runWallet(t, "show", "--wallet-path", root)
	if code != 0 || !strings.Contains(out, "coldkey  (none)") || !strings.Contains(out, "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX") {
		t.Errorf("show text: exit %d:\n%s", code, out)
	}
	code, out, _ = runWallet(t, "list", "--wallet-path", root)
	if code != 0 || !strings.Contains(out, "default  coldkey (none)") || !strings.Contains(out, "hotkey soft") || strings.Contains(out, "pub.txt") {
		t.Errorf("list: exit %d:\n%s", code, out)
	}
}

func TestWalletErrors(t *testing.T) {
	root := t.TempDir()
	t.Setenv(cli.PasswordEnv, "") // restored after the test
	os.Unsetenv(cli.PasswordEnv)  // run's stdin is not a terminal in tests
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no subcommand", nil, 2, "Usage: miner wallet"},
		{"unknown subcommand", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"regen both kinds", []string{"regen", "--cold", "--hot", "--uri", "//Alice"}, 2, "exactly one of --cold and --hot"},
		{"regen no source", []string{"regen", "--hot"}, 2, "exactly one of --mnemonic and --uri"},
		{"bad flag", []string{"show", "--password", "x"}, 2, "password"},
		{"bad wallet name", []string{"show", "--wallet", "../x", "--wallet-path", root}, 2, "wallet name"},
		{"bad mnemonic", []string{"regen", "--hot", "--mnemonic", "old leopard", "--wallet-path", root}, 1, "invalid mnemonic"},
		{"empty wallet", []string{"show", "--wallet-path", root}, 1, "neither coldkey nor hotkey"},
		{"unlock without coldkey", []string{"show", "--unlock", "--wallet-path", root}, 1, "no coldkey"},
		{"list empty", []string{"list", "--wallet-path", filepath.Join(root, "none")}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runWallet(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("wallet %v: exit %d, stderr %q; want %d with %q", tt.args, code, errOut, tt.code, tt.stderr)
			}
		})
	}
	// A corrupt hotkey is an error, not an empty address.
	hk := filepath.Join(root, "broken", "hotkeys", "default")
	if err := os.MkdirAll(filepath.Dir(hk), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hk, []byte(`{"privateKey":"0xzz"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runWallet(t, "show", "--wallet-path", root, "--wallet", "broken"); code != 1 || !strings.Contains(errOut, "corrupt keyfile") {
		t.Errorf("corrupt hotkey: exit %d, %q", code, errOut)
	}
}

// TestWalletWeakPassword: new and regen refuse a coldkey password that
// fails btcli's rule, before asking for it again and before writing
// anything; show --unlock takes the same password for an existing keyfile.
func TestWalletWeakPassword(t *testing.T) {
	root := t.TempDir()
	const want = "miner wallet: coldkey password too weak: shorter than 6 characters (btcli's minimum); " +
		"choose a longer password that mixes upper- and lower-case letters, digits, spaces and symbols and avoids repeats and runs such as aaa or 123\n"
	tests := []struct {
		name string
		args []string
	}{
		{"new", []string{"new", "--cold"}},
		{"new both", []string{"new"}},
		{"regen", []string{"regen", "--cold", "--uri", "//Alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("typed", func(t *testing.T) {
				t.Setenv(cli.PasswordEnv, "") // restored after the test
				os.Unsetenv(cli.PasswordEnv)
				var out, errOut bytes.Buffer
				args := append(tt.args, "--wallet-path", root)
				code := walletcmd.Run(context.Background(), args, strings.NewReader("a\na\n"), &out, &errOut)
				if code != 1 || !strings.HasSuffix(errOut.String(), want) || strings.Contains(errOut.String(), "Repeat") {
					t.Errorf("wallet %v: exit %d, stderr %q; want 1 ending %q, before the repeat prompt", args, code, errOut.String(), want)
				}
			})
			t.Run("env", func(t *testing.T) {
				t.Setenv(cli.PasswordEnv, "a")
				code, _, errOut := runWallet(t, append(tt.args, "--wallet-path", root)...)
				if code != 1 || errOut != strings.Replace(want, "miner wallet: ", "miner wallet: "+cli.PasswordEnv+": ", 1) {
					t.Errorf("exit %d, stderr %q; want 1 with %s named", code, errOut, cli.PasswordEnv)
				}
			})
		})
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("refused keys left %v (%v)", entries, err)
	}

	// A keyfile sealed with a one-character password still unlocks.
	dir := filepath.Join(root, "weak")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join("..", "chain", "wallet", "testdata", "ansible_vault_weak.txt"), filepath.Join(dir, "coldkey"))
	t.Setenv(cli.PasswordEnv, "a")
	if code, out, errOut := runWallet(t, "show", "--unlock", "--wallet-path", root, "--wallet", "weak"); code != 0 || !strings.Contains(out, "coldkey unlocked") {
		t.Errorf("show --unlock with the weak password: exit %d: %s%s", code, out, errOut)
	}
}

// TestWalletHelp: `miner wallet help` prints the usage and exits 0.
func TestWalletHelp(t *testing.T) {
	if code := walletcmd.Run(context.Background(), []string{"help"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Errorf("wallet help: exit %d", code)
	}
}
