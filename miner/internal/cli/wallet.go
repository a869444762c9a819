package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/taominer/taominer/chain/ss58"
	"github.com/taominer/taominer/chain/wallet"
)

// DefaultWalletPath is --wallet-path's default, btcli's wallets folder.
const DefaultWalletPath = "~/.bittensor/wallets"

// WalletFlags are --wallet-path, --wallet and --hotkey, once parsed.
type WalletFlags struct {
	Path, Name, Hotkey string
}

// NewWalletFlagSet is NewFlagSet with the wallet flags; command is the
// command's full name ("miner wallet new", "miner register").
func NewWalletFlagSet(command string, stderr io.Writer) (*flag.FlagSet, *WalletFlags) {
	flags := NewFlagSet(command, stderr)
	return flags, AddWalletFlags(flags, "hotkey name")
}

// AddWalletFlags defines --wallet-path, --wallet and --hotkey (described as
// hotkeyUsage) on flags.
func AddWalletFlags(flags *flag.FlagSet, hotkeyUsage string) *WalletFlags {
	wf := &WalletFlags{}
	flags.StringVar(&wf.Path, "wallet-path", DefaultWalletPath, "wallets folder")
	flags.StringVar(&wf.Name, "wallet", "default", "wallet name")
	flags.StringVar(&wf.Hotkey, "hotkey", "default", hotkeyUsage)
	return wf
}

// Open opens the wallet the flags name; an error is a UsageError.
func (wf *WalletFlags) Open() (*wallet.Wallet, error) {
	p, err := ExpandHome(wf.Path)
	if err != nil {
		return nil, UsageError{err.Error()}
	}
	w, err := wallet.Open(p, wf.Name, wf.Hotkey)
	if err != nil {
		return nil, UsageError{err.Error()}
	}
	return w, nil
}

// OpenHotkey opens the wallet and reads the address of its hotkey, as SS58
// and as a public key. A failure to read the hotkey names it and the wallet,
// then hint.
func (wf *WalletFlags) OpenHotkey(hint string) (*wallet.Wallet, string, [32]byte, error) {
	w, err := wf.Open()
	if err != nil {
		return nil, "", [32]byte{}, err
	}
	addr, err := w.HotkeyPub()
	if err != nil {
		return nil, "", [32]byte{}, fmt.Errorf("hotkey %q of wallet %q: %w%s", w.Hotkey, w.Name, err, hint)
	}
	pub, err := ss58.DecodeBittensor(addr)
	return w, addr, pub, err
}

// ExpandHome replaces a leading ~ with the user's home folder.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}
