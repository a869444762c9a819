// Package walletcmd is `miner wallet`: it creates, regenerates, lists and shows btcli-compatible
// wallets (chain/wallet) from the command line. The coldkey password comes from
// $TAOMINER_WALLET_PASSWORD or a prompt, never a flag (miner/internal/cli).
package walletcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/cli"
)

func usage(w io.Writer) {
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

// Run runs `miner wallet ...` and returns the exit code: 0 on success,
// 1 when the command failed, 2 for a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	pw := cli.NewPasswordSource(stdin, stderr)
	defer pw.Zero()
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
		return cli.HelpOrUnknown("miner wallet", args[0], usage, stdout, stderr)
	}
	return cli.ExitCode(err, stderr, "miner wallet")
}

const mnemonicWarning = "Write this mnemonic down and keep it offline: anyone who has it controls the key, and it is not shown again."

func walletNew(ctx context.Context, args []string, pw *cli.PasswordSource, stdout, stderr io.Writer) error {
	flags, wf := cli.NewWalletFlagSet("miner wallet new", stderr)
	cold := flags.Bool("cold", false, "create the coldkey")
	hot := flags.Bool("hot", false, "create the hotkey")
	overwrite := flags.Bool("overwrite", false, "replace existing keys")
	words := flags.Int("words", 12, "mnemonic length (12, 15, 18, 21 or 24)")
	if err := cli.ParseFlags(flags, args); err != nil {
		return err
	}
	if !*cold && !*hot {
		*cold, *hot = true, true
	}
	w, err := wf.Open()
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
		password, err := pw.Get(true)
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

func walletRegen(ctx context.Context, args []string, pw *cli.PasswordSource, stdout, stderr io.Writer) error {
	flags, wf := cli.NewWalletFlagSet("miner wallet regen", stderr)
	cold := flags.Bool("cold", false, "regenerate the coldkey")
	hot := flags.Bool("hot", false, "regenerate the hotkey")
	mnemonic := flags.String("mnemonic", "", "BIP39 mnemonic")
	uri := flags.String("uri", "", `secret URI, such as //Alice or "<mnemonic>//hard/soft"`)
	overwrite := flags.Bool("overwrite", false, "replace an existing key")
	if err := cli.ParseFlags(flags, args); err != nil {
		return err
	}
	if *cold == *hot {
		return cli.UsageError{Msg: "give exactly one of --cold and --hot"}
	}
	if (*mnemonic == "") == (*uri == "") {
		return cli.UsageError{Msg: "give exactly one of --mnemonic and --uri"}
	}
	w, err := wf.Open()
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
		if password, err = pw.Get(true); err != nil {
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
	flags, wf := cli.NewWalletFlagSet("miner wallet list", stderr)
	if err := cli.ParseFlags(flags, args); err != nil {
		return err
	}
	root, err := cli.ExpandHome(wf.Path)
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

// ShowJSON is `miner wallet show --json`. A missing key is an empty
// string, never an omitted field.
type ShowJSON struct {
	Wallet          string `json:"wallet"`
	Hotkey          string `json:"hotkey"`
	ColdkeySS58     string `json:"coldkey_ss58"`
	HotkeySS58      string `json:"hotkey_ss58"`
	ColdkeyUnlocked bool   `json:"coldkey_unlocked,omitempty"`
}

func walletShow(ctx context.Context, args []string, pw *cli.PasswordSource, stdout, stderr io.Writer) error {
	flags, wf := cli.NewWalletFlagSet("miner wallet show", stderr)
	asJSON := flags.Bool("json", false, "print JSON")
	unlockCold := flags.Bool("unlock", false, "decrypt the coldkey and check it against coldkeypub.txt")
	if err := cli.ParseFlags(flags, args); err != nil {
		return err
	}
	w, err := wf.Open()
	if err != nil {
		return err
	}
	out := ShowJSON{Wallet: w.Name, Hotkey: w.Hotkey}
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
		password, err := pw.Get(false)
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
