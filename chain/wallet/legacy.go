package wallet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// Prefixes of the encrypted keyfile formats.
const (
	ansiblePrefix = "$ANSIBLE_VAULT"
	fernetPrefix  = "gAAAAA"
)

// fernetSalt is the PBKDF2 salt of the Fernet keyfiles of bittensor ≤ 6.x.
const fernetSalt = "Iguesscyborgslikemyselfhaveatendencytobeparanoidaboutourorigins"

// fernetRounds is its PBKDF2-HMAC-SHA256 iteration count (several seconds).
const fernetRounds = 10_000_000

// ErrUnsupportedFormat is returned (wrapped) for keyfile data in a format
// this package cannot read.
var ErrUnsupportedFormat = errors.New("unsupported keyfile format")

// isEncrypted reports whether keyfile data is in one of the encrypted
// formats btwallet recognizes.
func isEncrypted(data []byte) bool {
	return bytes.HasPrefix(data, []byte(naclPrefix)) ||
		bytes.HasPrefix(data, []byte(ansiblePrefix)) ||
		bytes.HasPrefix(data, []byte(fernetPrefix))
}

// encryptionName names the encryption of keyfile data, for messages.
func encryptionName(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte(naclPrefix)):
		return "NaCl"
	case bytes.HasPrefix(data, []byte(ansiblePrefix)):
		return "Ansible Vault"
	case bytes.HasPrefix(data, []byte(fernetPrefix)):
		return "legacy (Fernet)"
	}
	return "none"
}

// decryptKeyfileData opens keyfile data in any encrypted format; the caller
// zeroes the result. Argon2i runs once for a $NACL file.
func decryptKeyfileData(data, password []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte(naclPrefix)):
		key := deriveNACLKey(password)
		defer clear(key[:])
		return openNACL(data, key)
	case bytes.HasPrefix(data, []byte(ansiblePrefix)):
		return decryptAnsible(data, password)
	case bytes.HasPrefix(data, []byte(fernetPrefix)):
		return decryptFernet(data, password)
	}
	return nil, fmt.Errorf("%w: keyfile is not encrypted", ErrUnsupportedFormat)
}

// decryptAnsible opens an ansible-vault 1.1 AES256 envelope: PBKDF2-SHA256
// (10,000 rounds) over the password and the file's salt gives an AES-256-CTR
// key, an HMAC-SHA256 key and the counter block.
func decryptAnsible(data, password []byte) ([]byte, error) {
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	header := bytes.Split(bytes.TrimSpace(lines[0]), []byte(";"))
	if len(header) < 3 || string(header[0]) != ansiblePrefix {
		return nil, fmt.Errorf("%w: bad Ansible Vault header", ErrCorrupt)
	}
	if v := string(header[1]); v != "1.1" && v != "1.2" {
		return nil, fmt.Errorf("%w: Ansible Vault version %s", ErrUnsupportedFormat, v)
	}
	if c := string(bytes.TrimSpace(header[2])); c != "AES256" {
		return nil, fmt.Errorf("%w: Ansible Vault cipher %s", ErrUnsupportedFormat, c)
	}
	var body []byte
	for _, l := range lines[1:] {
		body = append(body, bytes.TrimSpace(l)...)
	}
	inner := make([]byte, hex.DecodedLen(len(body)))
	if _, err := hex.Decode(inner, body); err != nil {
		return nil, fmt.Errorf("%w: Ansible Vault body: %w", ErrCorrupt, err)
	}
	parts := bytes.Split(inner, []byte("\n"))
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: Ansible Vault body has %d parts, want 3", ErrCorrupt, len(parts))
	}
	var salt, mac, ct []byte
	for i, dst := range []*[]byte{&salt, &mac, &ct} {
		b := make([]byte, hex.DecodedLen(len(parts[i])))
		if _, err := hex.Decode(b, parts[i]); err != nil {
			return nil, fmt.Errorf("%w: Ansible Vault body: %w", ErrCorrupt, err)
		}
		*dst = b
	}
	keys, err := pbkdf2.Key(sha256.New, string(password), salt, 10000, 80)
	if err != nil {
		return nil, fmt.Errorf("pbkdf2: %w", err)
	}
	defer clear(keys)
	h := hmac.New(sha256.New, keys[32:64])
	h.Write(ct)
	if !hmac.Equal(h.Sum(nil), mac) {
		return nil, ErrWrongPassword
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: Ansible Vault ciphertext length %d", ErrCorrupt, len(ct))
	}
	block, err := aes.NewCipher(keys[:32])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	plain := make([]byte, len(ct))
	cipher.NewCTR(block, keys[64:80]).XORKeyStream(plain, ct)
	return unpad(plain)
}

// decryptFernet opens a Fernet token whose key is PBKDF2-HMAC-SHA256 of the
// password with bittensor's fixed salt (bittensor ≤ 6.x). btwallet v4 cannot
// open these (it uses a random key); this does.
func decryptFernet(data, password []byte) ([]byte, error) {
	token, err := base64.URLEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: Fernet token: %w", ErrCorrupt, err)
	}
	// version 1 ‖ timestamp 8 ‖ iv 16 ‖ ciphertext (n·16) ‖ hmac 32
	if len(token) < 1+8+16+16+32 || token[0] != 0x80 || (len(token)-57)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: malformed Fernet token", ErrCorrupt)
	}
	key, err := pbkdf2.Key(sha256.New, string(password), []byte(fernetSalt), fernetRounds, 32)
	if err != nil {
		return nil, fmt.Errorf("pbkdf2: %w", err)
	}
	defer clear(key)
	body, mac := token[:len(token)-32], token[len(token)-32:]
	h := hmac.New(sha256.New, key[:16])
	h.Write(body)
	if !hmac.Equal(h.Sum(nil), mac) {
		return nil, ErrWrongPassword
	}
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	iv, ct := body[9:25], body[25:]
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
	return unpad(plain)
}

// unpad removes PKCS#7 padding in place, zeroing plain on error.
func unpad(plain []byte) ([]byte, error) {
	n := len(plain)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty plaintext", ErrCorrupt)
	}
	p := int(plain[n-1])
	if p == 0 || p > aes.BlockSize || p > n {
		clear(plain)
		return nil, fmt.Errorf("%w: bad padding", ErrCorrupt)
	}
	for _, b := range plain[n-p:] {
		if int(b) != p {
			clear(plain)
			return nil, fmt.Errorf("%w: bad padding", ErrCorrupt)
		}
	}
	clear(plain[n-p:])
	return plain[:n-p], nil
}

// PKCS#8 framing of a polkadot.js sr25519 export.
var (
	pkcs8Header  = []byte{0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20}
	pkcs8Divider = []byte{0xa1, 0x23, 0x03, 0x21, 0x00}
)

type polkadotJSON struct {
	Encoded  string `json:"encoded"`
	Encoding struct {
		Content []string `json:"content"`
		Type    []string `json:"type"`
		Version string   `json:"version"`
	} `json:"encoding"`
	Address string `json:"address"`
}

// FromPolkadotJSON decrypts a polkadot.js account export (the file
// `btcli w regen-coldkey --json` reads): encoding version 3, scrypt +
// xsalsa20-poly1305, PKCS#8 sr25519 content. The secret inside is in
// ed25519 form and is converted to the canonical form keyfiles use.
func FromPolkadotJSON(data, password []byte) (*Keypair, error) {
	var j polkadotJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: polkadot.js JSON: %w", ErrCorrupt, err)
	}
	if j.Encoding.Version != "3" {
		return nil, fmt.Errorf("%w: polkadot.js JSON version %q, want 3", ErrUnsupportedFormat, j.Encoding.Version)
	}
	if !slices.Contains(j.Encoding.Content, "sr25519") {
		return nil, fmt.Errorf("%w: polkadot.js key type %v, want sr25519", ErrUnsupportedFormat, j.Encoding.Content)
	}
	if !slices.Contains(j.Encoding.Type, "xsalsa20-poly1305") {
		return nil, fmt.Errorf("%w: polkadot.js encryption %v", ErrUnsupportedFormat, j.Encoding.Type)
	}
	enc, err := base64.StdEncoding.DecodeString(j.Encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: polkadot.js encoded: %w", ErrCorrupt, err)
	}
	var key [32]byte
	defer clear(key[:])
	if slices.Contains(j.Encoding.Type, "scrypt") {
		if len(enc) < 44 {
			return nil, fmt.Errorf("%w: polkadot.js encoded too short", ErrCorrupt)
		}
		salt := enc[:32]
		n := binary.LittleEndian.Uint32(enc[32:36])
		p := binary.LittleEndian.Uint32(enc[36:40])
		r := binary.LittleEndian.Uint32(enc[40:44])
		if n > 1<<20 || r > 64 || p > 16 {
			return nil, fmt.Errorf("%w: scrypt parameters N=%d r=%d p=%d out of range", ErrCorrupt, n, r, p)
		}
		k, err := scrypt.Key(password, salt, int(n), int(r), int(p), 32)
		if err != nil {
			return nil, fmt.Errorf("%w: scrypt: %w", ErrCorrupt, err)
		}
		copy(key[:], k)
		clear(k)
		enc = enc[44:]
	} else {
		if len(password) > 32 {
			return nil, fmt.Errorf("%w: password longer than 32 bytes without scrypt", ErrCorrupt)
		}
		copy(key[:], password)
	}
	if len(enc) < 24+secretbox.Overhead {
		return nil, fmt.Errorf("%w: polkadot.js encoded too short", ErrCorrupt)
	}
	var nonce [24]byte
	copy(nonce[:], enc[:24])
	plain, ok := secretbox.Open(nil, enc[24:], &nonce, &key)
	if !ok {
		return nil, ErrWrongPassword
	}
	defer clear(plain)
	want := len(pkcs8Header) + 64 + len(pkcs8Divider) + 32
	if len(plain) < want || !bytes.Equal(plain[:16], pkcs8Header) || !bytes.Equal(plain[80:85], pkcs8Divider) {
		return nil, fmt.Errorf("%w: bad PKCS#8 content", ErrCorrupt)
	}
	var secret [64]byte
	copy(secret[:], plain[16:80])
	// ed25519 form → canonical: divide the scalar by the cofactor.
	divideByCofactor(secret[:32])
	kp, err := FromPrivateKey(secret)
	clear(secret[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	var pub [32]byte
	copy(pub[:], plain[85:117])
	if pub != kp.pub {
		kp.Zero()
		return nil, fmt.Errorf("%w: public key does not match the secret", ErrCorrupt)
	}
	return kp, nil
}
