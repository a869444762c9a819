package wallet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Errors about keyfile contents and presence.
var (
	// ErrCorrupt is returned (wrapped) when a keyfile cannot be parsed:
	// truncated or invalid JSON, bad hex, wrong key lengths, or fields
	// that disagree with each other.
	ErrCorrupt = errors.New("corrupt keyfile")
	// ErrEncrypted is returned when a keyfile needs a password (or uses
	// an encryption this package cannot open).
	ErrEncrypted = errors.New("keyfile is encrypted")
	// ErrExists is returned when writing a key would replace an existing
	// file and overwriting was not asked for.
	ErrExists = errors.New("keyfile already exists")
)

// keyfileJSON is btwallet's keyfile: every field may be absent or null.
type keyfileJSON struct {
	AccountID    *string `json:"accountId"`
	PublicKey    *string `json:"publicKey"`
	PrivateKey   *string `json:"privateKey"`
	SecretPhrase *string `json:"secretPhrase"`
	SecretSeed   *string `json:"secretSeed"`
	SS58Address  *string `json:"ss58Address"`
}

// encodeKeyfile serializes kp the way btwallet does: compact JSON with
// accountId, publicKey and ss58Address, plus privateKey, secretPhrase and
// secretSeed when known. The caller zeroes the result. All values are
// hex, base58 or BIP39 words, so no JSON escaping is needed.
func encodeKeyfile(kp *Keypair) []byte {
	out := make([]byte, 0, 512+len(kp.phrase))
	field := func(name string) {
		if len(out) > 0 {
			out = append(out, ',')
		} else {
			out = append(out, '{')
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, `":"`...)
	}
	hexField := func(name string, b []byte) {
		field(name)
		out = append(out, "0x"...)
		out = hex.AppendEncode(out, b)
		out = append(out, '"')
	}
	hexField("accountId", kp.pub[:])
	hexField("publicKey", kp.pub[:])
	if kp.sk != nil {
		hexField("privateKey", kp.secret[:])
	}
	if kp.phrase != "" {
		field("secretPhrase")
		out = append(out, kp.phrase...)
		out = append(out, '"')
	}
	if kp.seed != nil {
		hexField("secretSeed", kp.seed[:])
	}
	field("ss58Address")
	out = append(out, kp.ss58...)
	out = append(out, `"}`...)
	return out
}

// encodePublicKeyfile is the content of coldkeypub.txt and <hotkey>pub.txt.
func encodePublicKeyfile(pub [32]byte) []byte {
	return encodeKeyfile(FromPublicKey(pub))
}

// decodeKeyfile reads a plaintext keyfile. Like btwallet it builds the key
// from the first usable of secretPhrase, secretSeed, privateKey and
// ss58Address (then publicKey); a secretSeed that is not 32 bytes of hex is
// skipped (btwallet sometimes writes raw bytes there). The public fields
// present must match the key.
func decodeKeyfile(data []byte) (*Keypair, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if isEncrypted(data) {
		return nil, ErrEncrypted
	}
	var f keyfileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	kp, err := keypairFromFields(&f)
	if err != nil {
		return nil, err
	}
	if err := checkPublicFields(&f, kp); err != nil {
		kp.Zero()
		return nil, err
	}
	return kp, nil
}

func keypairFromFields(f *keyfileJSON) (*Keypair, error) {
	if f.SecretPhrase != nil && *f.SecretPhrase != "" {
		kp, err := FromMnemonic(*f.SecretPhrase)
		if err != nil {
			return nil, fmt.Errorf("%w: secretPhrase: %w", ErrCorrupt, err)
		}
		return kp, nil
	}
	if f.SecretSeed != nil {
		var seed [32]byte
		if decodeHex(seed[:], *f.SecretSeed) == nil {
			kp, err := FromSeed(seed)
			clear(seed[:])
			if err != nil {
				return nil, fmt.Errorf("%w: secretSeed: %w", ErrCorrupt, err)
			}
			return kp, nil
		}
	}
	if f.PrivateKey != nil {
		var priv [64]byte
		if err := decodeHex(priv[:], *f.PrivateKey); err != nil {
			return nil, fmt.Errorf("%w: privateKey: %w", ErrCorrupt, err)
		}
		kp, err := FromPrivateKey(priv)
		clear(priv[:])
		if err != nil {
			return nil, fmt.Errorf("%w: privateKey: %w", ErrCorrupt, err)
		}
		return kp, nil
	}
	if f.SS58Address != nil {
		kp, err := FromSS58(*f.SS58Address)
		if err != nil {
			return nil, fmt.Errorf("%w: ss58Address: %w", ErrCorrupt, err)
		}
		return kp, nil
	}
	for _, p := range []*string{f.PublicKey, f.AccountID} {
		if p != nil {
			var pub [32]byte
			if err := decodeHex(pub[:], *p); err != nil {
				return nil, fmt.Errorf("%w: publicKey: %w", ErrCorrupt, err)
			}
			return FromPublicKey(pub), nil
		}
	}
	return nil, fmt.Errorf("%w: no key fields", ErrCorrupt)
}

func checkPublicFields(f *keyfileJSON, kp *Keypair) error {
	if f.SS58Address != nil && *f.SS58Address != kp.ss58 {
		return fmt.Errorf("%w: ss58Address %s does not match the key (%s)", ErrCorrupt, *f.SS58Address, kp.ss58)
	}
	for name, p := range map[string]*string{"publicKey": f.PublicKey, "accountId": f.AccountID} {
		if p == nil {
			continue
		}
		var pub [32]byte
		if err := decodeHex(pub[:], *p); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, name, err)
		}
		if pub != kp.pub {
			return fmt.Errorf("%w: %s does not match the key", ErrCorrupt, name)
		}
	}
	return nil
}

// decodeHex decodes s, with or without 0x, into exactly len(dst) bytes,
// without making a copy of s.
func decodeHex(dst []byte, s string) error {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d bytes of hex, got %d characters", len(dst), len(s))
	}
	for i := range dst {
		hi, ok1 := fromHexChar(s[2*i])
		lo, ok2 := fromHexChar(s[2*i+1])
		if !ok1 || !ok2 {
			clear(dst)
			return fmt.Errorf("invalid hex at %d", 2*i)
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
