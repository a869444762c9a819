package wallet

import (
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"

	"github.com/taominer/taominer/chain/ss58"
)

// SigningContext is the sr25519 signing context Substrate (and so Bittensor)
// uses for extrinsics and axon request signatures.
const SigningContext = "substrate"

// ErrNoSecret is returned when signing with a keypair that only has a public
// key, such as one read from coldkeypub.txt.
var ErrNoSecret = errors.New("keypair has no secret key")

// Keypair is an sr25519 keypair, or a public key alone. The zero value is not
// usable; build one with [FromMnemonic], [FromSeed], [FromPrivateKey],
// [FromURI] or [FromPublicKey].
type Keypair struct {
	pub  [32]byte
	ss58 string

	sk     *schnorrkel.SecretKey // nil for a public-only keypair
	secret [64]byte              // canonical scalar ‖ nonce, when sk != nil
	seed   *[32]byte             // mini secret, when known
	phrase string                // mnemonic, when known
}

// FromPublicKey returns a public-only keypair.
func FromPublicKey(pub [32]byte) *Keypair {
	return &Keypair{pub: pub, ss58: ss58.EncodeBittensor(pub)}
}

// FromSS58 returns a public-only keypair for an address with prefix 42.
func FromSS58(addr string) (*Keypair, error) {
	pub, err := ss58.DecodeBittensor(addr)
	if err != nil {
		return nil, err
	}
	return FromPublicKey(pub), nil
}

// FromSeed returns the keypair of a 32-byte mini secret, expanded the way
// Substrate does (ExpansionMode::Ed25519). seed is copied.
func FromSeed(seed [32]byte) (*Keypair, error) {
	var secret [64]byte
	expandEd25519(&secret, &seed)
	kp, err := fromSecret(&secret)
	clear(secret[:])
	if err != nil {
		return nil, err
	}
	s := seed
	kp.seed = &s
	return kp, nil
}

// FromPrivateKey returns the keypair of a 64-byte schnorrkel secret key in
// its canonical encoding (scalar ‖ nonce), the privateKey field of keyfiles.
// priv is copied.
func FromPrivateKey(priv [64]byte) (*Keypair, error) {
	kp, err := fromSecret(&priv)
	if err != nil {
		return nil, err
	}
	return kp, nil
}

// fromSecret builds a keypair from a canonical 64-byte secret, which it
// copies.
func fromSecret(secret *[64]byte) (*Keypair, error) {
	var key, nonce [32]byte
	copy(key[:], secret[:32])
	copy(nonce[:], secret[32:])
	sk := schnorrkel.NewSecretKey(key, nonce)
	clear(key[:])
	clear(nonce[:])
	pk, err := sk.Public()
	if err != nil {
		return nil, fmt.Errorf("invalid secret key: %w", err)
	}
	kp := &Keypair{sk: sk, secret: *secret}
	kp.pub = pk.Encode()
	kp.ss58 = ss58.EncodeBittensor(kp.pub)
	return kp, nil
}

// expandEd25519 turns a mini secret into a canonical secret key: SHA-512 of
// the mini secret, the lower half clamped as in ed25519 and divided by the
// cofactor 8, the upper half the nonce (schnorrkel's ExpansionMode::Ed25519).
func expandEd25519(out *[64]byte, mini *[32]byte) {
	h := sha512.Sum512(mini[:])
	copy(out[:], h[:])
	clear(h[:])
	out[0] &= 248
	out[31] &= 63
	out[31] |= 64
	divideByCofactor(out[:32])
}

// divideByCofactor divides a 32-byte little-endian scalar by 8 in place,
// turning an ed25519-form secret scalar into schnorrkel's canonical one.
func divideByCofactor(s []byte) {
	var low byte
	for i := len(s) - 1; i >= 0; i-- {
		r := s[i] & 7
		s[i] = s[i]>>3 | low
		low = r << 5
	}
}

// PublicKey returns the 32-byte public key.
func (k *Keypair) PublicKey() [32]byte { return k.pub }

// SS58 returns the public key's address with prefix 42.
func (k *Keypair) SS58() string { return k.ss58 }

// HasSecret reports whether the keypair can sign.
func (k *Keypair) HasSecret() bool { return k.sk != nil }

// Mnemonic returns the BIP39 phrase the keypair came from, or "".
func (k *Keypair) Mnemonic() string { return k.phrase }

// Sign signs msg with sr25519 under the "substrate" signing context.
// Signatures are randomized: signing twice gives different bytes.
func (k *Keypair) Sign(msg []byte) ([64]byte, error) {
	if k.sk == nil {
		return [64]byte{}, ErrNoSecret
	}
	sig, err := k.sk.Sign(schnorrkel.NewSigningContext([]byte(SigningContext), msg))
	if err != nil {
		return [64]byte{}, fmt.Errorf("sr25519 sign: %w", err)
	}
	return sig.Encode(), nil
}

// Verify reports whether sig is a valid signature of msg by this key.
func (k *Keypair) Verify(msg []byte, sig [64]byte) bool {
	return Verify(k.pub, msg, sig)
}

// Verify reports whether sig is a valid sr25519 signature of msg by pub under
// the "substrate" signing context. Malformed keys and signatures are simply
// invalid.
func Verify(pub [32]byte, msg []byte, sig [64]byte) bool {
	pk, err := schnorrkel.NewPublicKey(pub)
	if err != nil {
		return false
	}
	var s schnorrkel.Signature
	if err := s.Decode(sig); err != nil {
		return false
	}
	ok, err := pk.Verify(&s, schnorrkel.NewSigningContext([]byte(SigningContext), msg))
	return err == nil && ok
}

// SS58Verifier verifies signatures of text messages by SS58 address (of any
// prefix), as an axon checks its callers. The zero value is ready to use.
type SS58Verifier struct{}

// Verify reports whether sig is a valid signature of msg by the key of the
// SS58 address addr (see [Verify]); an error means addr is not an address.
func (SS58Verifier) Verify(addr, msg string, sig [64]byte) (bool, error) {
	pub, _, err := ss58.Decode(addr)
	if err != nil {
		return false, err
	}
	return Verify(pub, []byte(msg), sig), nil
}

// Zero overwrites the secret material the keypair holds and leaves it
// public-only. See the package documentation for what libraries keep.
func (k *Keypair) Zero() {
	if k.sk != nil {
		_ = k.sk.Decode([32]byte{}) // overwrites schnorrkel's copy of the scalar
		k.sk = nil
	}
	clear(k.secret[:])
	if k.seed != nil {
		clear(k.seed[:])
		k.seed = nil
	}
	k.phrase = ""
}

// randomNonce fills n with a fresh signing nonce, as schnorrkel does for soft
// derivation.
func randomNonce(n []byte) error {
	if _, err := rand.Read(n); err != nil {
		return fmt.Errorf("read random nonce: %w", err)
	}
	return nil
}
