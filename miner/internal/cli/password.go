package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/taominer/taominer/chain/wallet"
)

// PasswordEnv names the environment variable that supplies the coldkey
// password instead of a prompt.
const PasswordEnv = "TAOMINER_WALLET_PASSWORD"

// NewPasswordSource reads the password from $TAOMINER_WALLET_PASSWORD when it
// is set, else from stdin after a prompt on prompt.
func NewPasswordSource(stdin io.Reader, prompt io.Writer) *PasswordSource {
	pw := &PasswordSource{stdin: stdin, prompt: prompt}
	if v, ok := os.LookupEnv(PasswordEnv); ok {
		pw.env = []byte(v)
	}
	return pw
}

// PasswordSource gives the coldkey password: the environment variable if
// set, else a prompt on the terminal without echo, else a line of stdin. It
// asks at most once per command.
type PasswordSource struct {
	env    []byte
	stdin  io.Reader
	prompt io.Writer
	got    []byte
}

// Get returns the password. With confirm (a password that will encrypt a
// new key) it must pass btcli's rule, wallet.CheckPassword, and a typed one
// is asked twice; a password that unlocks a keyfile is taken as it is.
func (p *PasswordSource) Get(confirm bool) ([]byte, error) {
	if p.got != nil {
		return p.got, nil
	}
	if p.env != nil {
		if len(p.env) == 0 {
			return nil, fmt.Errorf("%s is set but empty", PasswordEnv)
		}
		if confirm {
			if err := wallet.CheckPassword(p.env); err != nil {
				return nil, fmt.Errorf("%s: %w", PasswordEnv, err)
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

func (p *PasswordSource) read(prompt string) ([]byte, error) {
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
	line, eof, err := ReadLine(p.stdin)
	if err != nil {
		clear(line)
		return nil, fmt.Errorf("read password: %w", err)
	}
	if eof && len(line) == 0 {
		return nil, fmt.Errorf("no password: set %s or run in a terminal", PasswordEnv)
	}
	fmt.Fprintln(p.prompt)
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// Zero clears the password and the environment's copy.
func (p *PasswordSource) Zero() {
	clear(p.got)
	clear(p.env)
}

// ReadLine reads one line from r, a byte at a time so that nothing after it
// is consumed (a later prompt reads the next line). The line is returned
// without its '\n'; eof is true when r ended before a '\n'. err is a read
// error other than io.EOF, returned with what was read so far.
func ReadLine(r io.Reader) (line []byte, eof bool, err error) {
	line = make([]byte, 0, 256)
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return line, false, nil
			}
			line = append(line, buf[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			return line, true, nil
		}
		if err != nil {
			return line, false, err
		}
	}
}

// Confirm asks a yes/no question on stdin; only "y" or "yes" is yes.
func Confirm(stdin io.Reader, prompt io.Writer, question string) (bool, error) {
	fmt.Fprint(prompt, question)
	// One byte at a time, so a password on the following line stays unread.
	line, _, err := ReadLine(stdin)
	if err != nil {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// LoadHotkey reads the wallet's hotkey with its secret, asking for the password
// ($TAOMINER_WALLET_PASSWORD or a prompt) when it is encrypted.
func LoadHotkey(w *wallet.Wallet, stdin io.Reader, stderr io.Writer) (*wallet.Keypair, error) {
	kp, err := w.LoadHotkey()
	if errors.Is(err, wallet.ErrEncrypted) {
		pw := NewPasswordSource(stdin, stderr)
		defer pw.Zero()
		var password []byte
		if password, err = pw.Get(false); err != nil {
			return nil, err
		}
		kp, err = w.UnlockHotkey(password)
	}
	if err != nil {
		return nil, fmt.Errorf("hotkey %q of wallet %q: %w", w.Hotkey, w.Name, err)
	}
	return kp, nil
}
