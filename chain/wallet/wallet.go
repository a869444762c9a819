package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrMismatch is returned when a coldkey does not match its coldkeypub.txt.
var ErrMismatch = errors.New("coldkey does not match coldkeypub.txt")

// maxKeyfileSize bounds what is read from a keyfile; real ones are < 1 KiB.
const maxKeyfileSize = 64 << 10

// Wallet names one btcli wallet and hotkey:
// <Path>/<Name>/{coldkey, coldkeypub.txt, hotkeys/<Hotkey>}. Missing files
// are normal (a server usually has the hotkey only); methods reading them
// return errors matching fs.ErrNotExist.
type Wallet struct {
	Path   string // root folder, e.g. ~/.bittensor/wallets
	Name   string // wallet folder name
	Hotkey string // hotkey file name
}

// Open checks the names and returns the wallet. It reads nothing: a wallet
// need not exist yet.
func Open(path, name, hotkey string) (*Wallet, error) {
	if path == "" {
		return nil, errors.New("wallet path is empty")
	}
	for what, n := range map[string]string{"wallet": name, "hotkey": hotkey} {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("%s name %q: %w", what, n, err)
		}
	}
	return &Wallet{Path: path, Name: name, Hotkey: hotkey}, nil
}

func checkName(n string) error {
	switch {
	case n == "":
		return errors.New("empty")
	case n == "." || n == "..":
		return errors.New("not a name")
	case strings.ContainsAny(n, "/\\\x00"):
		return errors.New("contains a path separator")
	case strings.HasPrefix(n, "."):
		return errors.New("starts with a dot")
	}
	return nil
}

// Dir is the wallet folder.
func (w *Wallet) Dir() string { return filepath.Join(w.Path, w.Name) }

// ColdkeyPath is the encrypted coldkey file.
func (w *Wallet) ColdkeyPath() string { return filepath.Join(w.Dir(), "coldkey") }

// ColdkeyPubPath is coldkeypub.txt.
func (w *Wallet) ColdkeyPubPath() string { return filepath.Join(w.Dir(), "coldkeypub.txt") }

// HotkeyPath is the hotkey file.
func (w *Wallet) HotkeyPath() string { return filepath.Join(w.Dir(), "hotkeys", w.Hotkey) }

// HotkeyPubPath is the hotkey's public file, <hotkey>pub.txt.
func (w *Wallet) HotkeyPubPath() string { return w.HotkeyPath() + "pub.txt" }

func readKeyfile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyfileSize+1))
	if err != nil {
		return nil, err // an *fs.PathError: "read <path>: ..."
	}
	if len(data) > maxKeyfileSize {
		clear(data)
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrCorrupt, maxKeyfileSize)
	}
	return data, nil
}

// loadPlain reads a keyfile that must not be encrypted.
func loadPlain(path string) (*Keypair, error) {
	data, err := readKeyfile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	kp, err := decodeKeyfile(data)
	if errors.Is(err, ErrEncrypted) {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrEncrypted, encryptionName(bytes.TrimSpace(data)))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kp, nil
}

// unlock reads a keyfile, decrypting it with password when it is encrypted.
func unlock(path string, password []byte) (*Keypair, error) {
	data, err := readKeyfile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	// Only leading space: a $NACL body is binary and may end in bytes that look like whitespace
	// (trimming them broke about one coldkey in 40). The text formats trim themselves.
	data = bytes.TrimLeft(data, " \t\r\n")
	if !isEncrypted(data) {
		kp, err := decodeKeyfile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return kp, nil
	}
	plain, err := decryptKeyfileData(data, password)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s (%s): %w", path, encryptionName(data), err)
	}
	defer clear(plain)
	kp, err := decodeKeyfile(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kp, nil
}

// LoadHotkey reads the hotkey. It returns an error matching [ErrEncrypted]
// for a password-protected hotkey (see [Wallet.UnlockHotkey]).
func (w *Wallet) LoadHotkey() (*Keypair, error) {
	return loadPlain(w.HotkeyPath())
}

// UnlockHotkey reads a hotkey that may be encrypted.
func (w *Wallet) UnlockHotkey(password []byte) (*Keypair, error) {
	return unlock(w.HotkeyPath(), password)
}

// HotkeyPub returns the hotkey's SS58 address, read from the hotkey file, or
// from <hotkey>pub.txt when the hotkey is encrypted. The secret, if read, is
// zeroed before returning.
func (w *Wallet) HotkeyPub() (string, error) {
	kp, err := loadPlain(w.HotkeyPath())
	if errors.Is(err, ErrEncrypted) {
		kp, err = loadPlain(w.HotkeyPubPath())
	}
	if err != nil {
		return "", err
	}
	defer kp.Zero()
	return kp.SS58(), nil
}

// ColdkeyPub returns the coldkey's SS58 address from coldkeypub.txt.
func (w *Wallet) ColdkeyPub() (string, error) {
	kp, err := loadPlain(w.ColdkeyPubPath())
	if err != nil {
		return "", err
	}
	defer kp.Zero()
	return kp.SS58(), nil
}

// UnlockColdkey decrypts the coldkey with password (Argon2i runs once, about
// 5 s) and checks it against coldkeypub.txt when that exists. A wrong
// password gives an error matching [ErrWrongPassword]; a coldkey for another
// address gives [ErrMismatch]. Nothing is written.
func (w *Wallet) UnlockColdkey(password []byte) (*Keypair, error) {
	kp, err := unlock(w.ColdkeyPath(), password)
	if err != nil {
		return nil, err
	}
	pub, err := w.ColdkeyPub()
	if errors.Is(err, fs.ErrNotExist) {
		return kp, nil
	}
	if err != nil {
		kp.Zero()
		return nil, err
	}
	if pub != kp.SS58() {
		kp.Zero()
		return nil, fmt.Errorf("%w: coldkey is %s, coldkeypub.txt says %s", ErrMismatch, kp.SS58(), pub)
	}
	return kp, nil
}

// exists reports whether any of paths exists.
func exists(paths ...string) (string, bool) {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// SetColdkey writes kp as the coldkey, sealed with password ($NACL), and its
// coldkeypub.txt. The password must pass btcli's rule ([CheckPassword]). The
// key is derived once; the sealed data is opened again and compared before
// anything is written. Existing files are refused with [ErrExists] unless
// overwrite is set.
func (w *Wallet) SetColdkey(kp *Keypair, password []byte, overwrite bool) error {
	if !kp.HasSecret() {
		return ErrNoSecret
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	if p, ok := exists(w.ColdkeyPath(), w.ColdkeyPubPath()); ok && !overwrite {
		return fmt.Errorf("%s: %w", p, ErrExists)
	}
	plain := encodeKeyfile(kp)
	defer clear(plain)
	key := deriveNACLKey(password)
	defer clear(key[:])
	sealed, err := sealNACL(plain, key)
	if err != nil {
		return err
	}
	check, err := openNACL(sealed, key)
	if err != nil {
		return fmt.Errorf("verify sealed coldkey: %w", err)
	}
	same := bytes.Equal(check, plain)
	clear(check)
	if !same {
		return errors.New("verify sealed coldkey: contents differ")
	}
	if err := writeFileAtomic(w.ColdkeyPath(), sealed, overwrite); err != nil {
		return fmt.Errorf("write coldkey: %w", err)
	}
	if err := writeFileAtomic(w.ColdkeyPubPath(), encodePublicKeyfile(kp.pub), overwrite); err != nil {
		return fmt.Errorf("write coldkeypub.txt: %w", err)
	}
	return nil
}

// SetHotkey writes kp unencrypted as the hotkey, as btcli does by default,
// plus <hotkey>pub.txt. Existing files are refused with [ErrExists] unless
// overwrite is set.
func (w *Wallet) SetHotkey(kp *Keypair, overwrite bool) error {
	if !kp.HasSecret() {
		return ErrNoSecret
	}
	if p, ok := exists(w.HotkeyPath(), w.HotkeyPubPath()); ok && !overwrite {
		return fmt.Errorf("%s: %w", p, ErrExists)
	}
	data := encodeKeyfile(kp)
	defer clear(data)
	if err := writeFileAtomic(w.HotkeyPath(), data, overwrite); err != nil {
		return fmt.Errorf("write hotkey: %w", err)
	}
	if err := writeFileAtomic(w.HotkeyPubPath(), encodePublicKeyfile(kp.pub), overwrite); err != nil {
		return fmt.Errorf("write hotkey public file: %w", err)
	}
	return nil
}

// Info describes one wallet found by [List]. An SS58 field is empty when the
// key is absent or unreadable; Err fields say why it is unreadable.
type Info struct {
	Name        string
	ColdkeySS58 string
	ColdkeyErr  error
	Hotkeys     []HotkeyInfo
}

// HotkeyInfo describes one hotkey of a wallet.
type HotkeyInfo struct {
	Name string
	SS58 string
	Err  error
}

// List returns the wallets under path, sorted by name, with their hotkeys.
// It reads only public data (coldkeypub.txt and hotkey files). A missing
// path gives an empty list.
func List(path string) ([]Info, error) {
	entries, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list wallets: %w", err)
	}
	var out []Info
	for _, e := range entries {
		if !e.IsDir() || checkName(e.Name()) != nil {
			continue
		}
		w := &Wallet{Path: path, Name: e.Name()}
		info := Info{Name: e.Name()}
		info.ColdkeySS58, info.ColdkeyErr = w.ColdkeyPub()
		if errors.Is(info.ColdkeyErr, fs.ErrNotExist) {
			info.ColdkeyErr = nil
		}
		hks, err := os.ReadDir(filepath.Join(w.Dir(), "hotkeys"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list hotkeys of %s: %w", e.Name(), err)
		}
		names := map[string]bool{}
		for _, h := range hks {
			if h.Type().IsRegular() && checkName(h.Name()) == nil {
				names[h.Name()] = true
			}
		}
		for name := range names {
			if base, ok := strings.CutSuffix(name, "pub.txt"); ok && names[base] {
				continue
			}
			hw := &Wallet{Path: path, Name: e.Name(), Hotkey: name}
			hi := HotkeyInfo{Name: name}
			hi.SS58, hi.Err = hw.HotkeyPub()
			info.Hotkeys = append(info.Hotkeys, hi)
		}
		sort.Slice(info.Hotkeys, func(i, j int) bool { return info.Hotkeys[i].Name < info.Hotkeys[j].Name })
		out = append(out, info)
	}
	return out, nil
}
