package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/taominer/taominer/chain/wallet"
)

// walletPasswordEnv names the environment variable that supplies the coldkey
// password instead of a prompt.
const walletPasswordEnv = "TAOMINER_WALLET_PASSWORD"

const defaultWalletPath = "~/.bittensor/wallets"

func walletUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: miner wallet <command> [options]

Wallets are btcli's: <wallet-path>/<wallet>/{coldkey, coldkeypub.txt, hotkeys/<hotkey>}.

Commands:
  new [--cold] [--hot] [--overwrite]        create keys (both when neither is given); prints each mnemonic once
  regen --cold|--hot --mnemonic "..."|--uri //Alice [--overwrite]
                                            recreate a key from its mnemonic or a secret URI
  list                                      wallets and hotkeys under --wallet-path
  show [--json] [--unlock]                  addresses of the wallet's keys; --unlock decrypts the coldkey

Common options:
  --wallet-path DIR   wallets folder (default ~/.bittensor/wallets)
  --wallet NAME       wallet name (default "default")
  --hotkey NAME       hotkey name (default "default")

The coldkey password comes from $TAOMINER_WALLET_PASSWORD, or else a prompt (never a flag).
`)
}

// walletFlags are the options every wallet subcommand takes.
type walletFlags struct {
	path, name, hotkey string
}

// newWalletFlagSet is newFlagSet with the wallet flags; command is the
// command's full name ("miner wallet new", "miner register").
func newWalletFlagSet(command string, stderr io.Writer) (*flag.FlagSet, *walletFlags) {
	flags := newFlagSet(command, stderr)
	return flags, addWalletFlags(flags, "hotkey name")
}

// addWalletFlags defines --wallet-path, --wallet and --hotkey (described as
// hotkeyUsage) on flags.
func addWalletFlags(flags *flag.FlagSet, hotkeyUsage string) *walletFlags {
	wf := &walletFlags{}
	flags.StringVar(&wf.path, "wallet-path", defaultWalletPath, "wallets folder")
	flags.StringVar(&wf.name, "wallet", "default", "wallet name")
	flags.StringVar(&wf.hotkey, "hotkey", "default", hotkeyUsage)
	return wf
}

// open opens the wallet the flags name; an error is a usageError.
func (wf *walletFlags) open() (*wallet.Wallet, error) {
	p, err := expandHome(wf.path)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	w, err := wallet.Open(p, wf.name, wf.hotkey)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return w, nil
}

// openHotkey opens the wallet and reads the address of its hotkey, as SS58
// and as a public key. A failure to read the hotkey names it and the wallet,
// then hint.
func (wf *walletFlags) openHotkey(hint string) (*wallet.Wallet, string, [32]byte, error) {
	w, err := wf.open()
	if err != nil {
		return nil, "", [32]byte{}, err
	}
	ss58, err := w.HotkeyPub()
	if err != nil {
		return nil, "", [32]byte{}, fmt.Errorf("hotkey %q of wallet %q: %w%s", w.Hotkey, w.Name, err, hint)
	}
	pub, err := hotkeyOf(ss58)
	return w, ss58, pub, err
}

// expandHome replaces a leading ~ with the user's home folder.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// walletCmd runs `miner wallet ...` and returns the exit code: 0 on success,
// 1 when the command failed, 2 for a usage error.
func walletCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		walletUsage(stderr)
		return 2
	}
	pw := newPasswordSource(stdin, stderr)
	defer pw.zero()
	var err error
	switch args[0] {
	case "new":
		err = walletNew(ctx, args[1:], pw, stdout, stderr)
	case "regen":
		err = walletRegen(ctx, args[1:], pw, stdout, stderr)
	case "list":
		err = walletList(args[1:], stdout, stderr)
	case "show":
		err = walletShow(ctx, args[1:], pw, stdout, stderr)
	default:
		return helpOrUnknown("miner wallet", args[0], walletUsage, stdout, stderr)
	}
	return exitCode(err, stderr, "miner wallet")
}

const mnemonicWarning = "Write this mnemonic down and keep it offline: anyone who has it controls the key, and it is not shown again."

func walletNew(ctx context.Context, args []string, pw *passwordSource, stdout, stderr io.Writer) error {
	flags, wf := newWalletFlagSet("miner wallet new", stderr)
	cold := flags.Bool("cold", false, "create the coldkey")
	hot := flags.Bool("hot", false, "create the hotkey")
	overwrite := flags.Bool("overwrite", false, "replace existing keys")
	words := flags.Int("words", 12, "mnemonic length (12, 15, 18, 21 or 24)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if !*cold && !*hot {
		*cold, *hot = true, true
	}
	w, err := wf.open()
	if err != nil {
		return err
	}
	if !*overwrite {
		var paths []string
		if *cold {
			paths = append(paths, w.ColdkeyPath(), w.ColdkeyPubPath())
		}
		if *hot {
			paths = append(paths, w.HotkeyPath())
		}
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s: %w (use --overwrite to replace it)", p, wallet.ErrExists)
			}
		}
	}
	if *cold {
		password, err := pw.get(true)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := newKey(w, "coldkey", *words, password, *overwrite, stdout); err != nil {
			return err
		}
	}
	if *hot {
		if err := newKey(w, "hotkey", *words, nil, *overwrite, stdout); err != nil {
			return err
		}
	}
	return nil
}

// newKey creates, writes and announces one key; password is nil for a
// hotkey.
func newKey(w *wallet.Wallet, what string, words int, password []byte, overwrite bool, stdout io.Writer) error {
	phrase, err := wallet.GenerateMnemonic(words)
	if err != nil {
		return err
	}
	kp, err := wallet.FromMnemonic(phrase)
	if err != nil {
		return err
	}
	defer kp.Zero()
	path, err := writeKey(w, what, kp, password, overwrite)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s written to %s\n", what, kp.SS58(), path)
	fmt.Fprintf(stdout, "%s\n  %s mnemonic: %s\n", mnemonicWarning, what, phrase)
	return nil
}

func writeKey(w *wallet.Wallet, what string, kp *wallet.Keypair, password []byte, overwrite bool) (string, error) {
	if what == "coldkey" {
		if err := w.SetColdkey(kp, password, overwrite); err != nil {
			return "", err
		}
		return w.ColdkeyPath() + " (encrypted)", nil
	}
	if err := w.SetHotkey(kp, overwrite); err != nil {
		return "", err
	}
	return w.HotkeyPath(), nil
}

func walletRegen(ctx context.Context, args []string, pw *passwordSource, stdout, stderr io.Writer) error {
	flags, wf := newWalletFlagSet("miner wallet regen", stderr)
	cold := flags.Bool("cold", false, "regenerate the coldkey")
	hot := flags.Bool("hot", false, "regenerate the hotkey")
	mnemonic := flags.String("mnemonic", "", "BIP39 mnemonic")
	uri := flags.String("uri", "", `secret URI, such as //Alice or "<mnemonic>//hard/soft"`)
	overwrite := flags.Bool("overwrite", false, "replace an existing key")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *cold == *hot {
		return usageError{"give exactly one of --cold and --hot"}
	}
	if (*mnemonic == "") == (*uri == "") {
		return usageError{"give exactly one of --mnemonic and --uri"}
	}
	w, err := wf.open()
	if err != nil {
		return err
	}
	var kp *wallet.Keypair
	if *mnemonic != "" {
		kp, err = wallet.FromMnemonic(*mnemonic)
	} else {
		kp, err = wallet.FromURI(*uri)
	}
	if err != nil {
		return err
	}
	defer kp.Zero()
	what := "hotkey"
	var password []byte
	if *cold {
		what = "coldkey"
		if _, err := os.Lstat(w.ColdkeyPath()); err == nil && !*overwrite {
			return fmt.Errorf("%s: %w (use --overwrite to replace it)", w.ColdkeyPath(), wallet.ErrExists)
		}
		if password, err = pw.get(true); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	path, err := writeKey(w, what, kp, password, *overwrite)
	if err != nil {
		if errors.Is(err, wallet.ErrExists) {
			return fmt.Errorf("%w (use --overwrite to replace it)", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s %s written to %s\n", what, kp.SS58(), path)
	return nil
}

func walletList(args []string, stdout, stderr io.Writer) error {
	flags, wf := newWalletFlagSet("miner wallet list", stderr)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	root, err := expandHome(wf.path)
	if err != nil {
		return err
	}
	infos, err := wallet.List(root)
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		fmt.Fprintf(stdout, "no wallets in %s\n", root)
		return nil
	}
	for _, in := range infos {
		fmt.Fprintf(stdout, "%s  coldkey %s\n", in.Name, describe(in.ColdkeySS58, in.ColdkeyErr))
		for _, h := range in.Hotkeys {
			fmt.Fprintf(stdout, "  hotkey %s  %s\n", h.Name, describe(h.SS58, h.Err))
		}
	}
	return nil
}

func describe(ss58 string, err error) string {
	switch {
	case err != nil:
		return "unreadable: " + err.Error()
	case ss58 == "":
		return "(none)"
	}
	return ss58
}

// walletShowJSON is `miner wallet show --json`. A missing key is an empty
// string, never an omitted field.
type walletShowJSON struct {
	Wallet          string `json:"wallet"`
	Hotkey          string `json:"hotkey"`
	ColdkeySS58     string `json:"coldkey_ss58"`
	HotkeySS58      string `json:"hotkey_ss58"`
	ColdkeyUnlocked bool   `json:"coldkey_unlocked,omitempty"`
}

func walletShow(ctx context.Context, args []string, pw *passwordSource, stdout, stderr io.Writer) error {
	flags, wf := newWalletFlagSet("miner wallet show", stderr)
	asJSON := flags.Bool("json", false, "print JSON")
	unlockCold := flags.Bool("unlock", false, "decrypt the coldkey and check it against coldkeypub.txt")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	w, err := wf.open()
	if err != nil {
		return err
	}
	out := walletShowJSON{Wallet: w.Name, Hotkey: w.Hotkey}
	out.ColdkeySS58, err = w.ColdkeyPub()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("coldkey: %w", err)
	}
	out.HotkeySS58, err = w.HotkeyPub()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hotkey: %w", err)
	}
	if *unlockCold {
		if _, err := os.Lstat(w.ColdkeyPath()); err != nil {
			return fmt.Errorf("no coldkey to unlock: %w", err)
		}
		password, err := pw.get(false)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		kp, err := w.UnlockColdkey(password)
		if err != nil {
			return fmt.Errorf("unlock coldkey: %w", err)
		}
		if out.ColdkeySS58 == "" {
			out.ColdkeySS58 = kp.SS58()
		}
		kp.Zero()
		out.ColdkeyUnlocked = true
	}
	if out.ColdkeySS58 == "" && out.HotkeySS58 == "" {
		return fmt.Errorf("wallet %q in %s has neither coldkey nor hotkey %q", w.Name, w.Path, w.Hotkey)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "wallet   %s (%s)\n", w.Name, w.Dir())
	fmt.Fprintf(stdout, "coldkey  %s\n", describe(out.ColdkeySS58, nil))
	fmt.Fprintf(stdout, "hotkey   %s  %s\n", w.Hotkey, describe(out.HotkeySS58, nil))
	if out.ColdkeyUnlocked {
		fmt.Fprintln(stdout, "coldkey unlocked: it matches coldkeypub.txt")
	}
	return nil
}

// newPasswordSource reads the password from $TAOMINER_WALLET_PASSWORD when it
// is set, else from stdin after a prompt on prompt.
func newPasswordSource(stdin io.Reader, prompt io.Writer) *passwordSource {
	pw := &passwordSource{stdin: stdin, prompt: prompt}
	if v, ok := os.LookupEnv(walletPasswordEnv); ok {
		pw.env = []byte(v)
	}
	return pw
}

// passwordSource gives the coldkey password: the environment variable if
// set, else a prompt on the terminal without echo, else a line of stdin. It
// asks at most once per command.
type passwordSource struct {
	env    []byte
	stdin  io.Reader
	prompt io.Writer
	got    []byte
}

// get returns the password. With confirm (a password that will encrypt a
// new key) it must pass btcli's rule, wallet.CheckPassword, and a typed one
// is asked twice; a password that unlocks a keyfile is taken as it is.
func (p *passwordSource) get(confirm bool) ([]byte, error) {
	if p.got != nil {
		return p.got, nil
	}
	if p.env != nil {
		if len(p.env) == 0 {
			return nil, fmt.Errorf("%s is set but empty", walletPasswordEnv)
		}
		if confirm {
			if err := wallet.CheckPassword(p.env); err != nil {
				return nil, fmt.Errorf("%s: %w", walletPasswordEnv, err)
			}
		}
		p.got = p.env
		return p.got, nil
	}
	pw, err := p.read("Coldkey password: ")
	if err != nil {
		return nil, err
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	if confirm {
		if err := wallet.CheckPassword(pw); err != nil {
			clear(pw)
			return nil, err
		}
		again, err := p.read("Repeat the password: ")
		if err != nil {
			clear(pw)
			return nil, err
		}
		same := bytes.Equal(pw, again)
		clear(again)
		if !same {
			clear(pw)
			return nil, errors.New("the passwords differ")
		}
	}
	p.got = pw
	return pw, nil
}

func (p *passwordSource) read(prompt string) ([]byte, error) {
	fmt.Fprint(p.prompt, prompt)
	if f, ok := p.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(p.prompt)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		return pw, nil
	}
	// Not a terminal: read one line, byte by byte so nothing past it is
	// consumed (a second prompt reads the next line).
	line, eof, err := readLine(p.stdin)
	if err != nil {
		clear(line)
		return nil, fmt.Errorf("read password: %w", err)
	}
	if eof && len(line) == 0 {
		return nil, fmt.Errorf("no password: set %s or run in a terminal", walletPasswordEnv)
	}
	fmt.Fprintln(p.prompt)
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

func (p *passwordSource) zero() {
	clear(p.got)
	clear(p.env)
}
