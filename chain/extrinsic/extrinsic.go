// Package extrinsic builds signed version-4 extrinsics for subtensor: the call from its metadata
// index, the transaction extensions in the order and with the types the metadata lists, the
// signing payload, and the MultiSignature::Sr25519 envelope.
package extrinsic

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
)

// Signer signs with an sr25519 key (signing context "substrate"). Sign receives the message
// exactly as it must be signed (the payload, or its blake2b-256 hash when the payload is longer
// than 256 bytes).
type Signer interface {
	PublicKey() [32]byte
	Sign(msg []byte) ([64]byte, error)
}

// ErrUnknownExtension is returned (wrapped) when the metadata lists a transaction extension this
// package does not know and whose explicit or implicit part is not empty: signing without it
// would produce an extrinsic the node rejects.
var ErrUnknownExtension = errors.New("extrinsic: unknown non-empty transaction extension")

// Params are the values the transaction extensions put into the extrinsic and its payload.
type Params struct {
	SpecVersion        uint32
	TransactionVersion uint32
	GenesisHash        [32]byte
	// Era is the validity window; the zero value is immortal. For a mortal era, BlockHash is the
	// hash of its birth block (Era.Birth); for immortal it must be the genesis hash.
	Era       scale.Era
	BlockHash [32]byte
	Nonce     uint32
	Tip       uint64
}

const (
	signedV4    = 0x84 // signed bit | version 4
	addressID   = 0x00 // MultiAddress::Id
	sigSr25519  = 0x01 // MultiSignature::Sr25519
	maxUnhashed = 256  // payloads longer than this are signed as blake2b-256(payload)
)

// extensions returns the explicit and implicit bytes of all transaction extensions, in metadata
// order.
func extensions(m *metadata.Metadata, p Params) (explicit, implicit []byte, err error) {
	for _, e := range m.Extrinsic.Extensions {
		switch e.Identifier {
		case "CheckSpecVersion":
			implicit = scale.AppendU32(implicit, p.SpecVersion)
		case "CheckTxVersion":
			implicit = scale.AppendU32(implicit, p.TransactionVersion)
		case "CheckGenesis":
			implicit = append(implicit, p.GenesisHash[:]...)
		case "CheckMortality", "CheckEra":
			explicit = scale.AppendEra(explicit, p.Era)
			implicit = append(implicit, p.BlockHash[:]...)
		case "CheckNonce":
			if s := shape(m, e.Type, 0); s != "compact<u32>" {
				return nil, nil, fmt.Errorf("extrinsic: CheckNonce is %s in this runtime, expected compact<u32>", s)
			}
			explicit = scale.AppendCompact(explicit, uint64(p.Nonce))
		case "ChargeTransactionPayment":
			if s := shape(m, e.Type, 0); s != "compact<u64>" && s != "compact<u128>" {
				return nil, nil, fmt.Errorf("extrinsic: ChargeTransactionPayment is %s in this runtime, expected a compact tip", s)
			}
			explicit = scale.AppendCompact(explicit, p.Tip)
		case "CheckMetadataHash":
			explicit = append(explicit, 0) // Mode::Disabled
			implicit = append(implicit, 0) // Option<[u8; 32]>::None
		default:
			if !m.ZeroSized(e.Type) || !m.ZeroSized(e.Implicit) {
				return nil, nil, fmt.Errorf("%w: %s", ErrUnknownExtension, e.Identifier)
			}
		}
	}
	return explicit, implicit, nil
}

func checkFormat(m *metadata.Metadata, p Params) error {
	ok := false
	for _, v := range m.Extrinsic.Versions {
		ok = ok || v == 4
	}
	if !ok {
		return fmt.Errorf("extrinsic: runtime does not accept version 4 extrinsics (versions %v)", m.Extrinsic.Versions)
	}
	if p.Era.Immortal() && p.BlockHash != p.GenesisHash {
		return errors.New("extrinsic: an immortal extrinsic must use the genesis hash as its block hash")
	}
	return nil
}

// SigningPayload returns call ++ explicit extension bytes ++ implicit extension bytes: the bytes
// the signer signs (after hashing when longer than 256 bytes, see SigningMessage).
func SigningPayload(m *metadata.Metadata, call Call, p Params) ([]byte, error) {
	if err := checkFormat(m, p); err != nil {
		return nil, err
	}
	explicit, implicit, err := extensions(m, p)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(call)+len(explicit)+len(implicit))
	out = append(out, call...)
	out = append(out, explicit...)
	return append(out, implicit...), nil
}

// SigningMessage returns what is actually signed: payload itself up to 256 bytes, its
// blake2b-256 hash otherwise.
func SigningMessage(payload []byte) []byte {
	if len(payload) > maxUnhashed {
		h := blake2b.Sum256(payload)
		return h[:]
	}
	return payload
}

// Sign builds and signs the extrinsic, returning its full encoding including the compact length
// prefix, ready for author_submitExtrinsic.
func Sign(m *metadata.Metadata, call Call, p Params, s Signer) ([]byte, error) {
	payload, err := SigningPayload(m, call, p)
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(SigningMessage(payload))
	if err != nil {
		return nil, fmt.Errorf("extrinsic: sign: %w", err)
	}
	explicit, _, _ := extensions(m, p) // cannot fail: SigningPayload succeeded
	pub := s.PublicKey()
	body := make([]byte, 0, 1+33+65+len(explicit)+len(call))
	body = append(body, signedV4, addressID)
	body = append(body, pub[:]...)
	body = append(body, sigSr25519)
	body = append(body, sig[:]...)
	body = append(body, explicit...)
	body = append(body, call...)
	return append(scale.AppendCompact(nil, uint64(len(body))), body...), nil
}

// Hash returns the extrinsic hash the transaction pool reports: blake2b-256 of the full encoding
// (length prefix included).
func Hash(ext []byte) [32]byte { return blake2b.Sum256(ext) }

// Decoded is a signed extrinsic split into its parts.
type Decoded struct {
	Signer    [32]byte
	Signature [64]byte
	Era       scale.Era
	Nonce     uint32
	Tip       uint64
	Call      Call
}

// Decode splits a signed v4 extrinsic (with its length prefix) built for the runtime described
// by m. It is used to check extrinsics, e.g. recorded ones, against this package's encoding.
func Decode(m *metadata.Metadata, ext []byte) (Decoded, error) {
	var out Decoded
	d := scale.NewDecoder(ext)
	n := d.Len(1)
	if d.Err() == nil && n != d.Remaining() {
		return out, fmt.Errorf("extrinsic: length prefix %d, but %d bytes follow", n, d.Remaining())
	}
	if v := d.U8(); v != signedV4 {
		return out, fmt.Errorf("extrinsic: version byte 0x%02x, want 0x84 (signed v4)", v)
	}
	if a := d.U8(); a != addressID {
		return out, fmt.Errorf("extrinsic: address kind %d, want 0 (Id)", a)
	}
	out.Signer = d.Array32()
	if s := d.U8(); s != sigSr25519 {
		return out, fmt.Errorf("extrinsic: signature kind %d, want 1 (Sr25519)", s)
	}
	copy(out.Signature[:], d.Bytes(64))
	for _, e := range m.Extrinsic.Extensions {
		switch e.Identifier {
		case "CheckMortality", "CheckEra":
			out.Era = d.Era()
		case "CheckNonce":
			out.Nonce = uint32(d.Compact())
		case "ChargeTransactionPayment":
			out.Tip = d.Compact()
		case "CheckMetadataHash":
			if mode := d.U8(); mode != 0 {
				return out, fmt.Errorf("extrinsic: CheckMetadataHash mode %d not supported", mode)
			}
		default:
			if !m.ZeroSized(e.Type) {
				return out, fmt.Errorf("%w: %s", ErrUnknownExtension, e.Identifier)
			}
		}
	}
	out.Call = Call(d.Bytes(d.Remaining()))
	if err := d.Err(); err != nil {
		return out, fmt.Errorf("extrinsic: %w", err)
	}
	return out, nil
}
