package wallet

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"
	"golang.org/x/crypto/blake2b"
)

// DevPhrase is the well-known development mnemonic that a URI without a
// phrase (such as //Alice) derives from. Its keys are public knowledge.
const DevPhrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

// ErrInvalidURI is returned (wrapped) for a secret URI that cannot be parsed.
var ErrInvalidURI = errors.New("invalid secret uri")

// junction is one step of a derivation path: //hard or /soft.
type junction struct {
	hard bool
	cc   [32]byte // chain code
}

// FromURI returns the keypair of a Substrate secret URI,
// "<phrase>[//hard|/soft]...[///password]", as sp-core's Pair::from_string
// reads it: the phrase is a mnemonic or a 0x-prefixed 32-byte hex seed, and
// an empty phrase means [DevPhrase] (so "//Alice" is the dev account Alice).
// Like btwallet, the result keeps neither phrase nor seed: its keyfile holds
// the private key only.
func FromURI(uri string) (*Keypair, error) {
	kp, err := deriveURI(uri)
	if err != nil {
		return nil, err
	}
	if kp.seed != nil {
		clear(kp.seed[:])
		kp.seed = nil
	}
	kp.phrase = ""
	return kp, nil
}

// deriveURI is FromURI keeping the mini secret when every junction is hard
// (sp-core's seed rule), for tests against published mini secrets.
func deriveURI(uri string) (*Keypair, error) {
	phrase, path, password := splitURI(uri)
	junctions, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	var kp *Keypair
	switch {
	case strings.HasPrefix(phrase, "0x"):
		if password != "" {
			return nil, fmt.Errorf("%w: a password needs a mnemonic, not a hex seed", ErrInvalidURI)
		}
		var seed [32]byte
		if n, err := hex.Decode(seed[:], []byte(phrase[2:])); err != nil || n != 32 || len(phrase) != 66 {
			return nil, fmt.Errorf("%w: hex seed must be 32 bytes", ErrInvalidURI)
		}
		kp, err = FromSeed(seed)
		clear(seed[:])
	case phrase == "":
		kp, err = fromMnemonicPassword(DevPhrase, password)
	default:
		kp, err = fromMnemonicPassword(normalizeMnemonic(phrase), password)
	}
	if err != nil {
		return nil, err
	}
	for _, j := range junctions {
		next, err := kp.derive(j)
		kp.Zero()
		if err != nil {
			return nil, err
		}
		kp = next
	}
	return kp, nil
}

// splitURI splits "<phrase><path>///<password>". The phrase ends at the first
// '/'.
func splitURI(uri string) (phrase, path, password string) {
	if i := strings.Index(uri, "///"); i >= 0 {
		uri, password = uri[:i], uri[i+3:]
	}
	if i := strings.IndexByte(uri, '/'); i >= 0 {
		return strings.TrimSpace(uri[:i]), uri[i:], password
	}
	return strings.TrimSpace(uri), "", password
}

// parsePath reads "//a/b//c" into junctions.
func parsePath(path string) ([]junction, error) {
	var out []junction
	for path != "" {
		hard := strings.HasPrefix(path, "//")
		if hard {
			path = path[2:]
		} else {
			path = path[1:]
		}
		name := path
		if i := strings.IndexByte(path, '/'); i >= 0 {
			name, path = path[:i], path[i:]
		} else {
			path = ""
		}
		if name == "" {
			return nil, fmt.Errorf("%w: empty junction", ErrInvalidURI)
		}
		out = append(out, junction{hard: hard, cc: chainCode(name)})
	}
	return out, nil
}

// chainCode is sp-core's DeriveJunction encoding: a decimal u64 as 8 bytes
// little-endian, anything else as a SCALE string (compact length ‖ UTF-8);
// zero-padded to 32 bytes, or blake2b-256 hashed when longer.
func chainCode(name string) [32]byte {
	var enc []byte
	if n, err := strconv.ParseUint(name, 10, 64); err == nil {
		enc = binary.LittleEndian.AppendUint64(nil, n)
	} else {
		enc = appendCompact(nil, uint64(len(name)))
		enc = append(enc, name...)
	}
	var cc [32]byte
	if len(enc) > 32 {
		cc = blake2b.Sum256(enc)
	} else {
		copy(cc[:], enc)
	}
	return cc
}

// appendCompact appends SCALE's compact encoding of n.
func appendCompact(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n<<2))
	case n < 1<<14:
		return binary.LittleEndian.AppendUint16(b, uint16(n<<2|1))
	case n < 1<<30:
		return binary.LittleEndian.AppendUint32(b, uint32(n<<2|2))
	default:
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], n)
		l := 8
		for l > 4 && tmp[l-1] == 0 {
			l--
		}
		b = append(b, byte((l-4)<<2|3))
		return append(b, tmp[:l]...)
	}
}

// derive applies one junction. A hard junction yields a new mini secret
// (merlin "SchnorrRistrettoHDKD" with empty sign-bytes), expanded Ed25519-mode;
// the seed is kept only if this key had one, as sp-core does. A soft junction
// adds a scalar derived from the public key; its nonce is random, as in
// schnorrkel, and no seed remains.
func (k *Keypair) derive(j junction) (*Keypair, error) {
	if k.sk == nil {
		return nil, ErrNoSecret
	}
	if j.hard {
		mini, _, err := k.sk.HardDeriveMiniSecretKey([]byte{}, j.cc)
		if err != nil {
			return nil, fmt.Errorf("hard derivation: %w", err)
		}
		seed := mini.Encode()
		_ = mini.Decode([32]byte{})
		kp, err := FromSeed(seed)
		clear(seed[:])
		if err != nil {
			return nil, err
		}
		if k.seed == nil {
			clear(kp.seed[:])
			kp.seed = nil
		}
		return kp, nil
	}
	ek, err := schnorrkel.DeriveKeySimple(k.sk, []byte{}, j.cc)
	if err != nil {
		return nil, fmt.Errorf("soft derivation: %w", err)
	}
	dsk, err := ek.Secret()
	if err != nil {
		return nil, fmt.Errorf("soft derivation: %w", err)
	}
	var secret [64]byte
	key := dsk.Encode()
	copy(secret[:32], key[:])
	clear(key[:])
	_ = dsk.Decode([32]byte{})
	if err := randomNonce(secret[32:]); err != nil {
		return nil, err
	}
	kp, err := fromSecret(&secret)
	clear(secret[:])
	return kp, err
}
