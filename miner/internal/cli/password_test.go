package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestPasswordSource: typed passwords (confirmed for a new key, checked against btcli's rule)
// and the environment's, which wins.
func TestPasswordSource(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		confirm bool
		want    string
		wantErr string
	}{
		{"confirmed", "s3cret\ns3cret\n", true, "s3cret", ""},
		{"crlf", "s3cret\r\n", false, "s3cret", ""},
		{"mismatch", "s3cret\ns3cre7\n", true, "", "differ"},
		{"weak new key", "a\na\n", true, "", "coldkey password too weak: shorter than 6 characters (btcli's minimum); choose a longer password"},
		{"weak unlock", "zz\n", false, "zz", ""},
		{"empty", "\n", false, "", "empty password"},
		{"no input", "", false, "", PasswordEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prompt bytes.Buffer
			p := &PasswordSource{stdin: strings.NewReader(tt.input), prompt: &prompt}
			got, err := p.Get(tt.confirm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Get() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Get() = %q, %v; want %q", got, err, tt.want)
			}
			if strings.Contains(prompt.String(), tt.want) {
				t.Errorf("prompt output echoes the password: %q", prompt.String())
			}
			p.Zero()
			if string(got) == tt.want {
				t.Errorf("Zero() left the password")
			}
		})
	}
	// The environment variable wins and is used as is.
	p := &PasswordSource{env: []byte("from env"), stdin: strings.NewReader("typed\n")}
	if got, err := p.Get(true); err != nil || string(got) != "from env" {
		t.Errorf("env password = %q, %v", got, err)
	}
	// A weak one from the environment may unlock, not encrypt a new key.
	p = &PasswordSource{env: []byte("abcabc")}
	if _, err := p.Get(true); err == nil || err.Error() != PasswordEnv+": coldkey password too weak: strength score 18 of 100, btcli needs 20; "+
		"choose a longer password that mixes upper- and lower-case letters, digits, spaces and symbols and avoids repeats and runs such as aaa or 123" {
		t.Errorf("weak env password for a new key: %v", err)
	}
	p = &PasswordSource{env: []byte("abcabc")}
	if got, err := p.Get(false); err != nil || string(got) != "abcabc" {
		t.Errorf("weak env password to unlock = %q, %v", got, err)
	}
}
