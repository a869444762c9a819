package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/taominer/taominer/chain/wallet"
	"github.com/taominer/taominer/miner/internal/config"
)

// checkServeWallet reads the hotkey a serving node will sign with (its
// axon, the chain), before any port binds or model loads, so that a
// missing or unreadable wallet fails the start at once with the flag and
// what to do, rather than after minutes of loading. A worker signs
// nothing and is not checked.
func checkServeWallet(cfg config.Serve) error {
	if cfg.Role == roleWorker {
		return nil
	}
	if cfg.Wallet == "" {
		if cfg.Network != "" {
			return fmt.Errorf("--network %s needs --wallet (and --hotkey): the wallet whose hotkey is registered on the subnet; "+
				"see your wallets with `miner wallet list`", cfg.Network)
		}
		return nil
	}
	kp, err := loadServeHotkey(cfg)
	if err != nil {
		return err
	}
	kp.Zero()
	return nil
}

// loadServeHotkey loads the hotkey serve signs with (no password: btcli
// writes hotkeys unencrypted); its errors name the flags and what to do.
func loadServeHotkey(cfg config.Serve) (*wallet.Keypair, error) {
	path, err := expandHome(cfg.WalletPath)
	if err != nil {
		return nil, fmt.Errorf("--wallet-path: %w", err)
	}
	w, err := wallet.Open(path, cfg.Wallet, cfg.Hotkey)
	if err != nil {
		return nil, fmt.Errorf("--wallet/--hotkey: %w", err)
	}
	kp, err := w.LoadHotkey()
	if err != nil {
		return nil, hotkeyError(w, cfg.WalletPath, err)
	}
	return kp, nil
}

// hotkeyError says why w's hotkey could not be read (err), naming the
// flags and, when a name is wrong, the wallets or hotkeys that exist.
func hotkeyError(w *wallet.Wallet, pathFlag string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(w.Dir()); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("--wallet %q: no such wallet in --wallet-path %s (%s); pick one with --wallet, point --wallet-path "+
				"at your wallets, or create one with `miner wallet new --wallet %s`", w.Name, pathFlag, walletNames(w.Path), w.Name)
		}
		return fmt.Errorf("--hotkey %q of --wallet %q: no hotkey file %s (%s); pick one with --hotkey, or create it with "+
			"`miner wallet new --hot --wallet %s --hotkey %s`", w.Hotkey, w.Name, w.HotkeyPath(), hotkeyNames(w), w.Name, w.Hotkey)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("--hotkey %q of --wallet %q: %w; run the miner as the user that owns the wallet, "+
			"or give it read access", w.Hotkey, w.Name, err)
	}
	return fmt.Errorf("--hotkey %q of --wallet %q: %w; serving needs btcli's unencrypted hotkey file: "+
		"recreate it with `miner wallet regen --hot --wallet %s --hotkey %s --mnemonic \"...\"`",
		w.Hotkey, w.Name, err, w.Name, w.Hotkey)
}

// walletNames lists the wallets under path, for a message.
func walletNames(path string) string {
	infos, err := wallet.List(path)
	if err != nil || len(infos) == 0 {
		return "it holds no wallet"
	}
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	return "wallets there: " + strings.Join(names, ", ")
}

// hotkeyNames lists w's hotkeys, for a message.
func hotkeyNames(w *wallet.Wallet) string {
	infos, err := wallet.List(w.Path)
	if err == nil {
		for _, in := range infos {
			if in.Name != w.Name || len(in.Hotkeys) == 0 {
				continue
			}
			names := make([]string, len(in.Hotkeys))
			for i, h := range in.Hotkeys {
				names[i] = h.Name
			}
			return "its hotkeys: " + strings.Join(names, ", ")
		}
	}
	return "the wallet has no hotkey"
}
