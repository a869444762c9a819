package main

import (
	"bytes"
	"testing"
)

// TestUnknownFlagSuggests runs every command with a mistyped flag: each
// names it, suggests the closest flag and says where the list is, with
// exit status 2.
func TestUnknownFlagSuggests(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--modles", "m"}, "unknown flag --modles; did you mean --models? (miner serve --help lists them)\n"},
		{[]string{"bench", "--modle", "m"}, "miner bench: unknown flag --modle; did you mean --model? (miner bench --help lists them)\n"},
		{[]string{"doctor", "--selftst"}, "miner doctor: unknown flag --selftst; did you mean --selftest? (miner doctor --help lists them)\n"},
		{[]string{"healthcheck", "--urll", "x"}, "miner healthcheck: unknown flag --urll; did you mean --url? (miner healthcheck --help lists them)\n"},
		{[]string{"query", "-axn", "x"}, "miner query: unknown flag --axn; did you mean --axon? (miner query --help lists them)\n"},
		{[]string{"register", "--netuid", "1", "--max-brun", "1"}, "miner register: unknown flag --max-brun; did you mean --max-burn? (miner register --help lists them)\n"},
		{[]string{"status", "--netui", "1"}, "miner status: unknown flag --netui; did you mean --netuid? (miner status --help lists them)\n"},
		{[]string{"validate", "--axons", "x"}, "miner validate: unknown flag --axons; did you mean --axon? (miner validate --help lists them)\n"},
		{[]string{"simulate", "--minrs", "2"}, "miner simulate: unknown flag --minrs; did you mean --miners? (miner simulate --help lists them)\n"},
		{[]string{"wallet", "new", "--wallet-pth", "x"}, "miner wallet: unknown flag --wallet-pth; did you mean --wallet-path? (miner wallet new --help lists them)\n"},
		{[]string{"wallet", "regen", "--mnemnic", "x"}, "miner wallet: unknown flag --mnemnic; did you mean --mnemonic? (miner wallet regen --help lists them)\n"},
		{[]string{"wallet", "list", "--wallet-pat", "x"}, "miner wallet: unknown flag --wallet-pat; did you mean --wallet-path? (miner wallet list --help lists them)\n"},
		{[]string{"wallet", "show", "--jsn"}, "miner wallet: unknown flag --jsn; did you mean --json? (miner wallet show --help lists them)\n"},
		{[]string{"doctor", "--frobnicate"}, "miner doctor: unknown flag --frobnicate (miner doctor --help lists them)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0]+" "+tt.args[1], func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != 2 || errOut.String() != tt.want {
				t.Errorf("miner %q: exit %d, stderr\n%q\nwant exit 2 and\n%q", tt.args, code, errOut.String(), tt.want)
			}
		})
	}
}
