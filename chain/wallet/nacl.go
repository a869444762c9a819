package wallet

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/nacl/secretbox"
)

// naclPrefix starts every keyfile sealed the current btwallet way.
const naclPrefix = "$NACL"

// naclSalt is btwallet's fixed Argon2i salt, the same for every keyfile.
var naclSalt = []byte{0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1}

// Argon2i parameters of libsodium's crypto_pwhash_argon2i OPSLIMIT_SENSITIVE
// and MEMLIMIT_SENSITIVE, which btwallet uses.
const (
	argonTime    = 8
	argonMemory  = 512 * 1024 // KiB
	argonThreads = 1
)

// ErrWrongPassword is returned when an encrypted keyfile does not open with
// the password given (the authenticator does not match).
var ErrWrongPassword = errors.New("wrong password")

// naclKey is a secretbox key derived from a password.
type naclKey [32]byte

// deriveNACLKey runs Argon2i v1.3 over password with btwallet's parameters.
// It takes about 5 s and 0.5 GiB. The caller zeroes the result.
func deriveNACLKey(password []byte) *naclKey {
	k := argon2.Key(password, naclSalt, argonTime, argonMemory, argonThreads, 32)
	var key naclKey
	copy(key[:], k)
	clear(k)
	return &key
}

// sealNACL encrypts plain as "$NACL" ‖ nonce ‖ secretbox(plain).
func sealNACL(plain []byte, key *naclKey) ([]byte, error) {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return sealNACLNonce(plain, key, &nonce), nil
}

func sealNACLNonce(plain []byte, key *naclKey, nonce *[24]byte) []byte {
	out := make([]byte, 0, len(naclPrefix)+len(nonce)+secretbox.Overhead+len(plain))
	out = append(out, naclPrefix...)
	out = append(out, nonce[:]...)
	return secretbox.Seal(out, plain, nonce, (*[32]byte)(key))
}

// openNACL decrypts a "$NACL" keyfile. The caller zeroes the result.
func openNACL(data []byte, key *naclKey) ([]byte, error) {
	if !bytes.HasPrefix(data, []byte(naclPrefix)) {
		return nil, fmt.Errorf("%w: not a $NACL keyfile", ErrCorrupt)
	}
	data = data[len(naclPrefix):]
	if len(data) < 24+secretbox.Overhead {
		return nil, fmt.Errorf("%w: $NACL keyfile too short (%d bytes)", ErrCorrupt, len(data)+len(naclPrefix))
	}
	var nonce [24]byte
	copy(nonce[:], data[:24])
	plain, ok := secretbox.Open(nil, data[24:], &nonce, (*[32]byte)(key))
	if !ok {
		return nil, ErrWrongPassword
	}
	return plain, nil
}
