// Package metadata decodes Substrate runtime metadata (versions 14, 15 and 16) as served by
// subtensor, and answers the questions the chain client asks of it: the index of a call, how a
// storage entry's key is hashed, which transaction extensions an extrinsic carries and in which
// order, what a module error means, and the signature of a runtime API method.
//
// Only what the client uses is kept: docs of types, constants and storage entries are skipped, but
// docs of enum variants are kept because error variants carry the human-readable error text.
package metadata

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/taominer/taominer/chain/scale"
)

// magic is "meta", the prefix of every RuntimeMetadataPrefixed blob.
var magic = []byte("meta")

// ErrUnsupportedVersion is returned (wrapped) for metadata versions other than 14, 15 and 16.
var ErrUnsupportedVersion = errors.New("metadata: unsupported version")

// ErrNotFound is returned (wrapped) by lookups for a pallet, call, storage entry, constant,
// error or runtime API method that the metadata does not have.
var ErrNotFound = errors.New("metadata: not found")

// Metadata is decoded runtime metadata.
type Metadata struct {
	Version   uint8 // 14, 15 or 16
	Types     []Type
	Pallets   []Pallet
	Extrinsic Extrinsic
	APIs      []RuntimeAPI // v15 and later; nil for v14
	// Outer enum type ids (v15 and later; zero for v14).
	CallEnum, EventEnum, ErrorEnum uint32
}

// Pallet is one pallet (module) of the runtime.
type Pallet struct {
	Name          string
	Index         uint8
	StoragePrefix string
	Storage       []StorageEntry
	Calls         *uint32 // enum type of the pallet's calls, nil if it has none
	Events        *uint32
	Errors        *uint32
	Constants     []Constant
}

// Constant is a pallet constant with its SCALE-encoded value.
type Constant struct {
	Name  string
	Type  uint32
	Value []byte
}

// Modifier says what reading an absent storage value returns.
type Modifier uint8

const (
	// Optional entries read as "none" when absent.
	Optional Modifier = 0
	// Default entries read as their default value when absent.
	Default Modifier = 1
)

// Hasher is a storage key hasher.
type Hasher uint8

// The storage hashers, in their encoded order.
const (
	Blake2_128 Hasher = iota
	Blake2_256
	Blake2_128Concat
	Twox128
	Twox256
	Twox64Concat
	Identity
)

var hasherNames = [...]string{"Blake2_128", "Blake2_256", "Blake2_128Concat", "Twox128", "Twox256", "Twox64Concat", "Identity"}

func (h Hasher) String() string {
	if int(h) < len(hasherNames) {
		return hasherNames[h]
	}
	return fmt.Sprintf("hasher(%d)", uint8(h))
}

// StorageEntry describes one storage item.
type StorageEntry struct {
	Name     string
	Modifier Modifier
	// Plain entries have no key: Hashers is empty and KeyType unused.
	Plain   bool
	Hashers []Hasher
	// KeyType is the key's type: a tuple with one element per hasher when there are several.
	KeyType   uint32
	ValueType uint32
	Default   []byte
}

// Extrinsic describes the extrinsic format.
type Extrinsic struct {
	Versions      []uint8 // supported extrinsic format versions (v14/v15: just one)
	AddressType   uint32
	CallType      uint32
	SignatureType uint32
	// Extensions are the transaction (signed) extensions in the order they are encoded.
	Extensions []Extension
}

// Extension is a signed (transaction) extension: its explicit part goes into the extrinsic, its
// implicit part only into the signed payload.
type Extension struct {
	Identifier string
	Type       uint32 // explicit ("extra")
	Implicit   uint32 // implicit ("additional signed")
}

// RuntimeAPI is a runtime API trait with its methods (v15+).
type RuntimeAPI struct {
	Name    string
	Methods []RuntimeAPIMethod
}

// RuntimeAPIMethod is one runtime API method, called over state_call as "<API>_<method>".
type RuntimeAPIMethod struct {
	Name   string
	Inputs []Field
	Output uint32
}

// Decode decodes a RuntimeMetadataPrefixed blob ("meta", version byte, payload), as returned by
// state_getMetadata and inside Metadata_metadata_at_version's OpaqueMetadata.
func Decode(b []byte) (*Metadata, error) {
	if len(b) < 5 || !bytes.Equal(b[:4], magic) {
		return nil, fmt.Errorf("metadata: missing %q magic prefix", magic)
	}
	m := &Metadata{Version: b[4]}
	if m.Version < 14 || m.Version > 16 {
		return nil, fmt.Errorf("%w: v%d (want 14, 15 or 16)", ErrUnsupportedVersion, m.Version)
	}
	d := scale.NewDecoder(b[5:])
	m.Types = readRegistry(d)
	n := d.Len(4)
	for i := 0; i < n && d.Err() == nil; i++ {
		m.Pallets = append(m.Pallets, readPallet(d, m.Version))
	}
	switch m.Version {
	case 14:
		ty := readTypeID(d)
		m.Extrinsic.Versions = []uint8{d.U8()}
		m.Extrinsic.Extensions = readExtensions(d)
		readTypeID(d) // runtime type
		if d.Err() == nil {
			m.fillV14ExtrinsicTypes(ty)
		}
	case 15:
		m.Extrinsic.Versions = []uint8{d.U8()}
		m.Extrinsic.AddressType = readTypeID(d)
		m.Extrinsic.CallType = readTypeID(d)
		m.Extrinsic.SignatureType = readTypeID(d)
		readTypeID(d) // extra type
		m.Extrinsic.Extensions = readExtensions(d)
		readTypeID(d) // runtime type
		m.APIs = readAPIs(d, 15)
		m.readOuterEnumsAndCustom(d)
	case 16:
		m.Extrinsic.Versions = d.Bytes(d.Len(1))
		m.Extrinsic.AddressType = readTypeID(d)
		m.Extrinsic.CallType = readTypeID(d)
		m.Extrinsic.SignatureType = readTypeID(d)
		// transaction_extensions_by_version: BTreeMap<u8, Vec<Compact<u32>>>. Version 4 signed
		// extrinsics always use the full list below, in its order.
		nv := d.Len(2)
		for i := 0; i < nv && d.Err() == nil; i++ {
			d.U8()
			ne := d.Len(1)
			for j := 0; j < ne && d.Err() == nil; j++ {
				d.Compact()
			}
		}
		ne := d.Len(3)
		for i := 0; i < ne && d.Err() == nil; i++ {
			m.Extrinsic.Extensions = append(m.Extrinsic.Extensions, Extension{
				Identifier: d.Str(), Type: readTypeID(d), Implicit: readTypeID(d),
			})
		}
		m.APIs = readAPIs(d, 16)
		m.readOuterEnumsAndCustom(d)
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("metadata v%d: %w", m.Version, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("metadata v%d: %w", m.Version, err)
	}
	return m, nil
}

// DecodeOpaque decodes the result of state_call("Metadata_metadata_at_version", version):
// Option<OpaqueMetadata>, i.e. 0x01, a compact length and the metadata blob. A None result means
// the runtime does not offer that version.
func DecodeOpaque(b []byte) (*Metadata, error) {
	d := scale.NewDecoder(b)
	if !d.Option() {
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("metadata: opaque wrapper: %w", err)
		}
		return nil, fmt.Errorf("%w: the runtime returned None for the requested metadata version", ErrUnsupportedVersion)
	}
	blob := d.VecBytes()
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("metadata: opaque wrapper: %w", err)
	}
	return Decode(blob)
}

func readPallet(d *scale.Decoder, version uint8) Pallet {
	p := Pallet{Name: d.Str()}
	if d.Option() {
		p.StoragePrefix = d.Str()
		n := d.Len(4)
		for i := 0; i < n && d.Err() == nil; i++ {
			p.Storage = append(p.Storage, readStorageEntry(d, version))
		}
	}
	p.Calls = readOptEnum(d, version)
	p.Events = readOptEnum(d, version)
	n := d.Len(4)
	for i := 0; i < n && d.Err() == nil; i++ {
		c := Constant{Name: d.Str(), Type: readTypeID(d)}
		c.Value = d.VecBytes()
		skipStrings(d)
		if version >= 16 {
			skipItemDeprecation(d)
		}
		p.Constants = append(p.Constants, c)
	}
	p.Errors = readOptEnum(d, version)
	if version >= 16 {
		na := d.Len(3) // associated types
		for i := 0; i < na && d.Err() == nil; i++ {
			d.Skip(d.Len(1))
			readTypeID(d)
			skipStrings(d)
		}
		nv := d.Len(36) // view functions
		for i := 0; i < nv && d.Err() == nil; i++ {
			d.Skip(32)
			d.Skip(d.Len(1))
			skipParams(d)
			readTypeID(d)
			skipStrings(d)
			skipItemDeprecation(d)
		}
	}
	p.Index = d.U8()
	if version >= 15 {
		skipStrings(d) // docs
	}
	if version >= 16 {
		skipItemDeprecation(d)
	}
	return p
}

func readOptEnum(d *scale.Decoder, version uint8) *uint32 {
	if !d.Option() {
		return nil
	}
	id := readTypeID(d)
	if version >= 16 {
		skipEnumDeprecation(d)
	}
	return &id
}

func readStorageEntry(d *scale.Decoder, version uint8) StorageEntry {
	e := StorageEntry{Name: d.Str(), Modifier: Modifier(d.U8())}
	switch kind := d.U8(); kind {
	case 0:
		e.Plain = true
		e.ValueType = readTypeID(d)
	case 1:
		n := d.Len(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			h := Hasher(d.U8())
			if h > Identity {
				d.Fail(fmt.Errorf("%w: storage hasher %d in %s", scale.ErrInvalid, h, e.Name))
			}
			e.Hashers = append(e.Hashers, h)
		}
		e.KeyType = readTypeID(d)
		e.ValueType = readTypeID(d)
	default:
		d.Fail(fmt.Errorf("%w: storage entry type %d in %s", scale.ErrInvalid, kind, e.Name))
	}
	e.Default = d.VecBytes()
	skipStrings(d)
	if version >= 16 {
		skipItemDeprecation(d)
	}
	return e
}

func readExtensions(d *scale.Decoder) []Extension {
	n := d.Len(3)
	var out []Extension
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, Extension{Identifier: d.Str(), Type: readTypeID(d), Implicit: readTypeID(d)})
	}
	return out
}

func skipParams(d *scale.Decoder) []Field {
	n := d.Len(2)
	var out []Field
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, Field{Name: d.Str(), Type: readTypeID(d)})
	}
	return out
}

func readAPIs(d *scale.Decoder, version uint8) []RuntimeAPI {
	n := d.Len(3)
	var apis []RuntimeAPI
	for i := 0; i < n && d.Err() == nil; i++ {
		a := RuntimeAPI{Name: d.Str()}
		nm := d.Len(3)
		for j := 0; j < nm && d.Err() == nil; j++ {
			mm := RuntimeAPIMethod{Name: d.Str()}
			mm.Inputs = skipParams(d)
			mm.Output = readTypeID(d)
			skipStrings(d)
			if version >= 16 {
				skipItemDeprecation(d)
			}
			a.Methods = append(a.Methods, mm)
		}
		skipStrings(d)
		if version >= 16 {
			d.Compact() // api version
			skipItemDeprecation(d)
		}
		apis = append(apis, a)
	}
	return apis
}

func (m *Metadata) readOuterEnumsAndCustom(d *scale.Decoder) {
	m.CallEnum = readTypeID(d)
	m.EventEnum = readTypeID(d)
	m.ErrorEnum = readTypeID(d)
	n := d.Len(3) // custom: BTreeMap<String, {ty, value: Vec<u8>}>
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Skip(d.Len(1))
		readTypeID(d)
		d.VecBytes()
	}
}

// skipItemDeprecation skips a v16 ItemDeprecationInfo.
func skipItemDeprecation(d *scale.Decoder) {
	switch v := d.U8(); v {
	case 0, 1:
	case 2:
		d.Skip(d.Len(1))
		readOptString(d)
	default:
		d.Fail(fmt.Errorf("%w: deprecation info variant %d", scale.ErrInvalid, v))
	}
}

// skipEnumDeprecation skips a v16 EnumDeprecationInfo: BTreeMap<u8, VariantDeprecationInfo>.
func skipEnumDeprecation(d *scale.Decoder) {
	n := d.Len(2)
	for i := 0; i < n && d.Err() == nil; i++ {
		d.U8()
		switch v := d.U8(); v {
		case 1:
		case 2:
			d.Skip(d.Len(1))
			readOptString(d)
		default:
			d.Fail(fmt.Errorf("%w: variant deprecation info %d", scale.ErrInvalid, v))
		}
	}
}

// fillV14ExtrinsicTypes takes the address, call and signature types from the generic parameters
// of v14's UncheckedExtrinsic type (v14 has no separate fields for them).
func (m *Metadata) fillV14ExtrinsicTypes(ty uint32) {
	t, err := m.Type(ty)
	if err != nil {
		return
	}
	for _, p := range t.Params {
		if p.Type == nil {
			continue
		}
		switch p.Name {
		case "Address":
			m.Extrinsic.AddressType = *p.Type
		case "Call":
			m.Extrinsic.CallType = *p.Type
		case "Signature":
			m.Extrinsic.SignatureType = *p.Type
		}
	}
}

// check verifies that every type id the client may follow exists.
func (m *Metadata) check() error {
	ids := []uint32{m.Extrinsic.AddressType, m.Extrinsic.CallType, m.Extrinsic.SignatureType}
	for _, e := range m.Extrinsic.Extensions {
		ids = append(ids, e.Type, e.Implicit)
	}
	for _, p := range m.Pallets {
		for _, e := range p.Storage {
			ids = append(ids, e.KeyType, e.ValueType)
		}
		for _, t := range []*uint32{p.Calls, p.Events, p.Errors} {
			if t != nil {
				ids = append(ids, *t)
			}
		}
	}
	for _, id := range ids {
		if int(id) >= len(m.Types) {
			return fmt.Errorf("%w: type id %d out of range (%d types)", scale.ErrInvalid, id, len(m.Types))
		}
	}
	return nil
}
