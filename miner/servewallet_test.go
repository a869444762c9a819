package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/config"
)

// TestBadWalletFailsBeforeLoading starts `miner serve` with chain flags
// and a wallet that cannot be used: the start fails with the flag, what
// is wrong and what to do, before any port binds or model opens.
func TestBadWalletFailsBeforeLoading(t *testing.T) {
	wallets := axonWallets(t) // miner, stranger, validator; hotkey "default" each
	hotkeys := filepath.Join(wallets, "miner", "hotkeys")
	if err := os.Mkdir(filepath.Join(hotkeys, "folder"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(hotkeys, "garbage"), "not a keyfile")
	tests := []struct {
		name           string
		wallet, hotkey string
		want           string
	}{
		{"wallet name", "minr", "default", fmt.Sprintf(`--wallet "minr": no such wallet in --wallet-path %s `+
			"(wallets there: miner, stranger, validator); pick one with --wallet, point --wallet-path at your wallets, "+
			"or create one with `miner wallet new --wallet minr`", wallets)},
		{"hotkey name", "miner", "hot2", fmt.Sprintf(`--hotkey "hot2" of --wallet "miner": no hotkey file %s `+
			"(its hotkeys: default, garbage); pick one with --hotkey, or create it with "+
			"`miner wallet new --hot --wallet miner --hotkey hot2`", filepath.Join(hotkeys, "hot2"))},
		{"unreadable", "miner", "folder", fmt.Sprintf(`--hotkey "folder" of --wallet "miner": `+
			"read %s: is a directory; serving needs btcli's unencrypted hotkey file: recreate it with "+
			"`miner wallet regen --hot --wallet miner --hotkey folder --mnemonic \"...\"`", filepath.Join(hotkeys, "folder"))},
		{"not a keyfile", "miner", "garbage", fmt.Sprintf(`--hotkey "garbage" of --wallet "miner": %s: corrupt keyfile`,
			filepath.Join(hotkeys, "garbage"))},
		{"no wallet", "", "default", "--network ws://127.0.0.1:9 needs --wallet (and --hotkey): the wallet whose hotkey is " +
			"registered on the subnet; see your wallets with `miner wallet list`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.DefaultServe()
			cfg.HTTPAddr, cfg.ModelsDir, cfg.LogLevel = "127.0.0.1:0", rowSumRepo(t), "info"
			cfg.Network, cfg.Netuid = "ws://127.0.0.1:9", 1
			cfg.WalletPath, cfg.Wallet, cfg.Hotkey, cfg.AxonPort = wallets, tt.wallet, tt.hotkey, 0
			var logs syncBuffer
			o := &gateOpener{}
			n, err := newNodeWith(t.Context(), cfg, newLogger(cfg, &logs), nodeOptions{opener: o})
			if err == nil {
				n.close()
				t.Fatal("the miner started with a wallet it cannot use")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to start with\n%s", err, tt.want)
			}
			if c := o.calls.Load(); c != 0 {
				t.Errorf("%d models opened before the wallet failed the start, want none", c)
			}
			for _, line := range []string{"onnxruntime loaded", "listening", "model loaded"} {
				if strings.Contains(logs.String(), line) {
					t.Errorf("log shows %q before the wallet failed the start:\n%s", line, logs.String())
				}
			}
		})
	}
}
