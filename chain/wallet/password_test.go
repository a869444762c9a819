package wallet

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPassword pins btcli's rule (btwallet validate_password: at least
// 6 bytes and a score of at least 20 from the passwords 3.1.16 crate). The
// scores were computed by that crate's analyzer and scorer, compiled from
// its v3.1.16 source, and agree with PasswordScore to 12 decimals on these
// and on 20 000 random passwords.
func TestCheckPassword(t *testing.T) {
	tests := []struct {
		password string
		score    float64
		ok       bool
		why      string // in the error when !ok
	}{
		{"", 0, false, "shorter than 6 characters"},
		{"a", 1.5, false, "shorter than 6 characters"},
		{"12345", 12.5, false, "shorter than 6 characters"},
		{"Ab1!x", 24.5, false, "shorter than 6 characters"}, // strong enough, too short
		{"abcabc", 18, false, "strength score 18 of 100, btcli needs 20"},
		{"aabbcc", 18, false, "strength score 18 of 100"},
		{"aceace", 18, false, "strength score 18 of 100"},
		{"112233", 16, false, "strength score 16 of 100"},
		{"123456", 20, true, ""}, // exactly the threshold
		{"111111", 20, true, ""},
		{"abcdef", 22, true, ""},
		{"aaaaaa", 22, true, ""},
		{"s3cret", 32, true, ""},
		{"password", 56, true, ""},
		{"correct horse battery", 85.023809523810, true, ""},
		{"Tr0ub4dor&3", 90.181818181818, true, ""},
		{"ééé", 60, true, ""},                                 // 6 bytes; each non-ASCII character adds 20
		{"\t\t\tabc", 4.95, false, "strength score 4 of 100"}, // control characters count for the length only
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			if got := PasswordScore([]byte(tt.password)); math.Abs(got-tt.score) > 1e-9 {
				t.Errorf("PasswordScore(%q) = %.12f, want %.12f", tt.password, got, tt.score)
			}
			err := CheckPassword([]byte(tt.password))
			if tt.ok {
				if err != nil {
					t.Errorf("CheckPassword(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			if !errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), tt.why) ||
				!strings.Contains(err.Error(), "choose a longer password that mixes upper- and lower-case letters, digits, spaces and symbols") {
				t.Errorf("CheckPassword(%q) = %v, want ErrWeakPassword saying %q and what to do", tt.password, err, tt.why)
			}
		})
	}
}

// TestSetColdkeyRefusesWeakPassword: a weak password writes nothing (and
// costs no Argon2i run).
func TestSetColdkeyRefusesWeakPassword(t *testing.T) {
	root := t.TempDir()
	w, _ := Open(root, "cold", "default")
	kp, err := FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "a", "abcabc"} {
		if err := w.SetColdkey(kp, []byte(pw), false); !errors.Is(err, ErrWeakPassword) {
			t.Errorf("SetColdkey(%q) = %v, want ErrWeakPassword", pw, err)
		}
	}
	if _, err := os.Stat(w.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused coldkey left %s (%v)", w.Dir(), err)
	}
}

// TestUnlockWeakPassword: the rule is for new keys only; a keyfile sealed
// with a one-character password still opens with it.
func TestUnlockWeakPassword(t *testing.T) {
	root := t.TempDir()
	w, _ := Open(root, "weak", "default")
	data, err := os.ReadFile(filepath.Join("testdata", "ansible_vault_weak.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(w.ColdkeyPath(), data, false); err != nil {
		t.Fatal(err)
	}
	kp, err := w.UnlockColdkey([]byte("a"))
	if err != nil || kp.SS58() != ss58Mnemonic4 {
		t.Errorf("UnlockColdkey(\"a\") = %v, %v; want the key", kp, err)
	}
}
