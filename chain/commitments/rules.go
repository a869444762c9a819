package commitments

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
)

// Rules are what the connected runtime's Commitments pallet accepts, read from its metadata.
type Rules struct {
	Spec uint32 // the runtime's spec version (0 when the metadata does not say)
	// MaxFields is the MaxFields constant: fields per commitment (1 at spec 218, 3 since 300).
	MaxFields int
	// Kinds lists the Data variants the runtime has (BigRaw, TimelockEncrypted and
	// ResetBondsFlag since spec 300).
	Kinds map[Kind]bool
	// SpaceLimit is true when the runtime rate-limits by space (UsedSpaceOf and MaxSpace, since
	// spec 300); otherwise RateLimit is the constant number of blocks between two commitments.
	SpaceLimit bool
	RateLimit  uint64
}

// ErrRuntime is returned (wrapped) when the runtime's Commitments pallet is missing or its types
// differ from the Data encoding this package writes.
var ErrRuntime = errors.New("commitments: unexpected runtime")

// ErrTooManyFields is returned (wrapped) for more fields than the runtime's MaxFields.
var ErrTooManyFields = errors.New("commitments: too many fields")

// ErrUnsupported is returned (wrapped) for a Data variant the runtime does not have.
var ErrUnsupported = errors.New("commitments: variant not in this runtime")

// ReadRules reads the pallet's rules from md and checks that its Data enum is the one this
// package encodes (every variant at the index it writes), so a runtime that changed the encoding
// is refused instead of being sent garbage.
func ReadRules(md *metadata.Metadata) (Rules, error) {
	r := Rules{Kinds: map[Kind]bool{}}
	if rv, err := md.RuntimeVersion(); err == nil {
		r.Spec = rv.SpecVersion
	}
	data, err := dataType(md)
	if err != nil {
		return r, err
	}
	for _, v := range data.Def.Variants {
		k, ok := kindOf(v.Name, v.Index)
		if !ok {
			return r, fmt.Errorf("%w: Data variant %s has index %d", ErrRuntime, v.Name, v.Index)
		}
		r.Kinds[k] = true
	}
	if len(data.Def.Variants) < 1+MaxRaw+1+4 || !r.Kinds[None] || !r.Kinds[Raw] {
		return r, fmt.Errorf("%w: Data has %d variants, expected None, Raw0…Raw128 and the hashes", ErrRuntime, len(data.Def.Variants))
	}
	c, err := md.Constant(pallet, "MaxFields")
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	r.MaxFields = int(scale.NewDecoder(c.Value).U32())
	_, errUsed := md.StorageEntry(pallet, "UsedSpaceOf")
	_, errMax := md.StorageEntry(pallet, "MaxSpace")
	if errUsed == nil && errMax == nil {
		r.SpaceLimit = true
	} else if c, err := md.Constant(pallet, "RateLimit"); err == nil {
		r.RateLimit = uint64(scale.NewDecoder(c.Value).U32())
	}
	return r, nil
}

// dataType finds the Data enum through set_commitment's info argument: CommitmentInfo { fields:
// BoundedVec(Vec<Data>) }.
func dataType(md *metadata.Metadata) (*metadata.Type, error) {
	call, err := md.Call(pallet, "set_commitment")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
	}
	if len(call.Args) != 2 || call.Args[1].Name != "info" {
		return nil, fmt.Errorf("%w: set_commitment takes %d arguments", ErrRuntime, len(call.Args))
	}
	id := call.Args[1].Type
	for range 4 {
		t, err := md.Type(id)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRuntime, err)
		}
		switch {
		case t.Def.Kind == metadata.KindComposite && len(t.Def.Fields) == 1:
			id = t.Def.Fields[0].Type
		case t.Def.Kind == metadata.KindSequence:
			id = t.Def.Elem
		case t.Def.Kind == metadata.KindVariant:
			return t, nil
		default:
			return nil, fmt.Errorf("%w: set_commitment's info is a %s", ErrRuntime, t.Def.Kind)
		}
	}
	return nil, fmt.Errorf("%w: set_commitment's info is not CommitmentInfo { fields: Vec<Data> }", ErrRuntime)
}

// kindOf maps a Data variant of the metadata to its Kind, checking its index against the tag
// this package writes.
func kindOf(name string, index uint8) (Kind, bool) {
	if len(name) > 3 && name[:3] == "Raw" {
		n, err := strconv.Atoi(name[3:])
		return Raw, err == nil && n >= 0 && n <= MaxRaw && int(index) == tagRaw0+n
	}
	want := map[string]uint8{
		"None": 0, "BlakeTwo256": tagBlake, "Sha256": tagBlake + 1, "Keccak256": tagBlake + 2, "ShaThree256": tagBlake + 3,
		"TimelockEncrypted": tagTimelock, "ResetBondsFlag": tagResetBond, "BigRaw": tagBigRaw,
	}
	tag, ok := want[name]
	if !ok || tag != index {
		return 0, false
	}
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// Text returns the field that holds s: Raw up to 128 bytes, BigRaw up to 512 bytes where the
// runtime has it. Longer text is a *TooLongError naming the limit. The length is in bytes of
// UTF-8, not characters.
func (r Rules) Text(s string) (Field, error) {
	switch {
	case len(s) <= MaxRaw:
		return Field{Kind: Raw, Bytes: []byte(s)}, nil
	case !r.Kinds[BigRaw]:
		return Field{}, &TooLongError{Len: len(s), Limit: MaxRaw, Variant: "Raw", Spec: r.Spec}
	case len(s) <= MaxBigRaw:
		return Field{Kind: BigRaw, Bytes: []byte(s)}, nil
	}
	return Field{}, &TooLongError{Len: len(s), Limit: MaxBigRaw, Variant: "BigRaw"}
}

// Check refuses fields the runtime cannot hold: more than MaxFields, a variant it lacks, or a
// payload over its variant's size.
func (r Rules) Check(fields []Field) error {
	if len(fields) > r.MaxFields {
		return fmt.Errorf("%w: %d fields, the runtime's MaxFields is %d", ErrTooManyFields, len(fields), r.MaxFields)
	}
	for i, f := range fields {
		if err := f.check(); err != nil {
			return fmt.Errorf("field %d: %w", i, err)
		}
		if !r.Kinds[f.Kind] {
			return fmt.Errorf("field %d: %w: runtime spec %d has no %s", i, ErrUnsupported, r.Spec, f.Kind)
		}
	}
	return nil
}

// Cost is the space a commitment of fields charges (the sum of the fields' costs, at least
// MinCost).
func Cost(fields []Field) uint64 {
	var n uint64
	for _, f := range fields {
		n += f.Cost()
	}
	return max(n, MinCost)
}

// SetCommitment encodes Commitments.set_commitment(netuid, fields) for the runtime md describes,
// after Check.
func SetCommitment(md *metadata.Metadata, netuid uint16, fields []Field) (extrinsic.Call, error) {
	r, err := ReadRules(md)
	if err != nil {
		return nil, err
	}
	if err := r.Check(fields); err != nil {
		return nil, err
	}
	info, err := EncodeInfo(fields)
	if err != nil {
		return nil, err
	}
	return extrinsic.SetCommitment(md, netuid, info)
}
