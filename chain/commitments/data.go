package commitments

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/taominer/taominer/chain/scale"
)

// Kind is a variant of the pallet's Data enum.
type Kind uint8

// The Data variants. Raw stands for the 129 variants Raw0…Raw128, whose tag is the length plus one.
const (
	None Kind = iota
	Raw
	BlakeTwo256
	Sha256
	Keccak256
	ShaThree256
	TimelockEncrypted
	ResetBondsFlag
	BigRaw
)

// Size limits of the Data variants (the pallet's types.rs; the same in every runtime that has the
// variant).
const (
	MaxRaw       = 128  // Raw0…Raw128: the bytes follow the tag, no length prefix
	MaxBigRaw    = 512  // BigRaw: BoundedVec<u8, 512>
	MaxTimelock  = 1024 // TimelockEncrypted: BoundedVec<u8, 1024> of ciphertext
	hashLen      = 32
	tagRaw0      = 0x01
	tagBlake     = 0x82
	tagTimelock  = 0x86
	tagResetBond = 0x87
	tagBigRaw    = 0x88
)

// MinCost is the least space one set_commitment charges against MaxSpace, whatever its fields.
const MinCost = 100

var kindNames = [...]string{"None", "Raw", "BlakeTwo256", "Sha256", "Keccak256", "ShaThree256", "TimelockEncrypted", "ResetBondsFlag", "BigRaw"}

// String returns the variant's name (Raw for all of Raw0…Raw128).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one Data value of a commitment.
type Field struct {
	Kind Kind
	// Bytes is the payload: the bytes of Raw and BigRaw, the 32-byte digest of the hash variants,
	// the ciphertext of TimelockEncrypted; empty for None and ResetBondsFlag.
	Bytes []byte
	// RevealRound is the drand round of a TimelockEncrypted field.
	RevealRound uint64
}

// Name returns the field's variant name as the metadata spells it: "Raw23", "BigRaw", "Sha256"….
func (f Field) Name() string {
	if f.Kind == Raw {
		return "Raw" + strconv.Itoa(len(f.Bytes))
	}
	return f.Kind.String()
}

// Cost is what the field counts towards the space rate limit (the pallet's len_for_rate_limit).
func (f Field) Cost() uint64 {
	switch f.Kind {
	case Raw, BigRaw, TimelockEncrypted:
		return uint64(len(f.Bytes))
	case BlakeTwo256, Sha256, Keccak256, ShaThree256:
		return hashLen
	}
	return 0
}

// Text returns the payload of a Raw or BigRaw field as a string; ok is false for other variants
// and for bytes that are not valid UTF-8.
func (f Field) Text() (string, bool) {
	if (f.Kind != Raw && f.Kind != BigRaw) || !utf8.Valid(f.Bytes) {
		return "", false
	}
	return string(f.Bytes), true
}

// String renders the field for people: the variant name, then the text quoted, or the bytes in hex.
func (f Field) String() string {
	switch f.Kind {
	case None, ResetBondsFlag:
		return f.Name()
	case TimelockEncrypted:
		return fmt.Sprintf("%s (%d bytes of ciphertext, reveal round %d)", f.Name(), len(f.Bytes), f.RevealRound)
	}
	if s, ok := f.Text(); ok {
		return f.Name() + " " + strconv.Quote(s)
	}
	return f.Name() + " 0x" + hex.EncodeToString(f.Bytes)
}

// Equal reports whether f and g are the same value.
func (f Field) Equal(g Field) bool {
	return f.Kind == g.Kind && string(f.Bytes) == string(g.Bytes) && f.RevealRound == g.RevealRound
}

// check reports a field no runtime can hold: a payload over its variant's size.
func (f Field) check() error {
	limit := -1
	switch f.Kind {
	case None, ResetBondsFlag:
		limit = 0
	case Raw:
		limit = MaxRaw
	case BigRaw:
		limit = MaxBigRaw
	case TimelockEncrypted:
		limit = MaxTimelock
	case BlakeTwo256, Sha256, Keccak256, ShaThree256:
		if len(f.Bytes) != hashLen {
			return fmt.Errorf("%w: a %s digest is %d bytes, not %d", ErrInvalidField, f.Kind, hashLen, len(f.Bytes))
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalidField, f.Kind)
	}
	if len(f.Bytes) > limit {
		return &TooLongError{Len: len(f.Bytes), Limit: limit, Variant: f.Kind.String()}
	}
	return nil
}

// ErrInvalidField is returned (wrapped) for a Field that is not a Data value: a digest that is not
// 32 bytes, or an unknown Kind.
var ErrInvalidField = errors.New("commitments: invalid field")

// ErrTooLong is matched (errors.Is) by every *TooLongError.
var ErrTooLong = errors.New("commitments: data too long")

// TooLongError is data longer than the variant, or the runtime, can hold. Variant names the
// limit: "Raw" (128 bytes), "BigRaw" (512), "TimelockEncrypted" (1024).
type TooLongError struct {
	Len, Limit int
	Variant    string
	// Spec is the runtime's spec version when the limit is the runtime's (it has no BigRaw); 0
	// when it is the variant's own.
	Spec uint32
}

func (e *TooLongError) Error() string {
	limit := fmt.Sprintf("%s holds at most %d bytes", e.Variant, e.Limit)
	if e.Variant == "Raw" {
		limit = fmt.Sprintf("Raw%d is the largest Raw variant", e.Limit)
	}
	s := fmt.Sprintf("commitments: %d bytes do not fit: %s", e.Len, limit)
	if e.Spec != 0 {
		s += fmt.Sprintf(" and runtime spec %d has no BigRaw", e.Spec)
	}
	return s + "; commit a digest (Sha256) and serve the content elsewhere"
}

// Is makes errors.Is(err, ErrTooLong) match.
func (e *TooLongError) Is(target error) bool { return target == ErrTooLong }

// AppendField appends the SCALE encoding of f: the tag byte, then the payload (Raw: the bytes
// with no length prefix; BigRaw and TimelockEncrypted: a compact length first).
func AppendField(b []byte, f Field) ([]byte, error) {
	if err := f.check(); err != nil {
		return b, err
	}
	switch f.Kind {
	case None:
		return append(b, 0), nil
	case Raw:
		return append(append(b, byte(tagRaw0+len(f.Bytes))), f.Bytes...), nil
	case BlakeTwo256, Sha256, Keccak256, ShaThree256:
		return append(append(b, tagBlake+byte(f.Kind-BlakeTwo256)), f.Bytes...), nil
	case TimelockEncrypted:
		b = scale.AppendBytes(append(b, tagTimelock), f.Bytes)
		return scale.AppendU64(b, f.RevealRound), nil
	case ResetBondsFlag:
		return append(b, tagResetBond), nil
	default: // BigRaw; check refused the rest
		return scale.AppendBytes(append(b, tagBigRaw), f.Bytes), nil
	}
}

// EncodeInfo encodes a CommitmentInfo: the compact number of fields, then each field.
func EncodeInfo(fields []Field) ([]byte, error) {
	b := scale.AppendCompact(nil, uint64(len(fields)))
	for i, f := range fields {
		var err error
		if b, err = AppendField(b, f); err != nil {
			return nil, fmt.Errorf("field %d: %w", i, err)
		}
	}
	return b, nil
}

// decodeField reads one Data value. Every Data value takes at least one byte, so a corrupt
// count of fields cannot make the caller allocate more than the input's length.
func decodeField(d *scale.Decoder) Field {
	start := d.Offset()
	tag := d.U8()
	if d.Err() != nil {
		return Field{}
	}
	switch {
	case tag == 0:
		return Field{Kind: None}
	case tag <= tagRaw0+MaxRaw:
		return Field{Kind: Raw, Bytes: d.Bytes(int(tag - tagRaw0))}
	case tag < tagTimelock:
		return Field{Kind: BlakeTwo256 + Kind(tag-tagBlake), Bytes: d.Bytes(hashLen)}
	case tag == tagTimelock:
		ct := boundedBytes(d, MaxTimelock, "TimelockEncrypted")
		return Field{Kind: TimelockEncrypted, Bytes: ct, RevealRound: d.U64()}
	case tag == tagResetBond:
		return Field{Kind: ResetBondsFlag}
	case tag == tagBigRaw:
		return Field{Kind: BigRaw, Bytes: boundedBytes(d, MaxBigRaw, "BigRaw")}
	}
	d.Fail(fmt.Errorf("%w: invalid Data tag 0x%02x at offset %d", scale.ErrInvalid, tag, start))
	return Field{}
}

// boundedBytes reads a BoundedVec<u8, limit>: longer ones fail to decode, as in the runtime.
func boundedBytes(d *scale.Decoder, limit int, variant string) []byte {
	start := d.Offset()
	b := d.VecBytes()
	if len(b) > limit {
		d.Fail(fmt.Errorf("%w: %s of %d bytes at offset %d, the bound is %d", scale.ErrInvalid, variant, len(b), start, limit))
		return nil
	}
	return b
}
