package metadata

import (
	"fmt"

	"github.com/taominer/taominer/chain/scale"
)

// Kind says which shape a type definition has (scale-info's TypeDef variants).
type Kind uint8

// The kinds of scale-info type definitions, in their encoded order.
const (
	KindComposite Kind = iota
	KindVariant
	KindSequence
	KindArray
	KindTuple
	KindPrimitive
	KindCompact
	KindBitSequence
)

var kindNames = [...]string{"composite", "variant", "sequence", "array", "tuple", "primitive", "compact", "bitsequence"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Primitive is a scale-info primitive type.
type Primitive uint8

// The scale-info primitives, in their encoded order.
const (
	Bool Primitive = iota
	Char
	Str
	U8
	U16
	U32
	U64
	U128
	U256
	I8
	I16
	I32
	I64
	I128
	I256
)

var primNames = [...]string{"bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "u256", "i8", "i16", "i32", "i64", "i128", "i256"}

func (p Primitive) String() string {
	if int(p) < len(primNames) {
		return primNames[p]
	}
	return fmt.Sprintf("primitive(%d)", uint8(p))
}

// size returns the encoded width of fixed-width primitives (0 for str; char is 4 bytes).
func (p Primitive) size() int {
	switch p {
	case Bool, U8, I8:
		return 1
	case U16, I16:
		return 2
	case Char, U32, I32:
		return 4
	case U64, I64:
		return 8
	case U128, I128:
		return 16
	case U256, I256:
		return 32
	}
	return 0
}

// Type is one entry of the portable type registry.
type Type struct {
	ID     uint32
	Path   []string // e.g. ["sp_runtime", "DispatchError"]
	Params []TypeParam
	Def    TypeDef
}

// TypeParam is a generic parameter of a type; Type is nil when the parameter is unused.
type TypeParam struct {
	Name string
	Type *uint32
}

// TypeDef is a type definition. Which fields are set depends on Kind.
type TypeDef struct {
	Kind      Kind
	Fields    []Field   // composite
	Variants  []Variant // variant
	Elem      uint32    // sequence, array and compact element type
	Len       uint32    // array length
	Tuple     []uint32  // tuple element types
	Primitive Primitive // primitive
	BitStore  uint32    // bit sequence store type
	BitOrder  uint32    // bit sequence order type
}

// Field is a field of a composite type or of an enum variant.
type Field struct {
	Name     string // empty for tuple-like fields
	Type     uint32
	TypeName string // the Rust type name as written in the source, e.g. "NetUid"
}

// Variant is one variant of an enum type (calls, events and errors are enums).
type Variant struct {
	Name   string
	Index  uint8
	Fields []Field
	Docs   []string
}

// PathString joins the type's path with "::".
func (t *Type) PathString() string {
	s := ""
	for i, p := range t.Path {
		if i > 0 {
			s += "::"
		}
		s += p
	}
	return s
}

// VariantByName returns the variant called name.
func (d *TypeDef) VariantByName(name string) (*Variant, bool) {
	for i := range d.Variants {
		if d.Variants[i].Name == name {
			return &d.Variants[i], true
		}
	}
	return nil, false
}

// VariantByIndex returns the variant with encoded index idx.
func (d *TypeDef) VariantByIndex(idx uint8) (*Variant, bool) {
	for i := range d.Variants {
		if d.Variants[i].Index == idx {
			return &d.Variants[i], true
		}
	}
	return nil, false
}

func readStrings(d *scale.Decoder) []string {
	n := d.Len(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.Str()
	}
	return out
}

func skipStrings(d *scale.Decoder) {
	n := d.Len(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		d.Skip(d.Len(1))
	}
}

func readOptString(d *scale.Decoder) string {
	if d.Option() {
		return d.Str()
	}
	return ""
}

func readTypeID(d *scale.Decoder) uint32 {
	v := d.Compact()
	if v > 1<<32-1 {
		d.Fail(fmt.Errorf("%w: type id %d", scale.ErrInvalid, v))
	}
	return uint32(v)
}

func readFields(d *scale.Decoder) []Field {
	n := d.Len(2)
	if n == 0 {
		return nil
	}
	fs := make([]Field, n)
	for i := range fs {
		fs[i].Name = readOptString(d)
		fs[i].Type = readTypeID(d)
		fs[i].TypeName = readOptString(d)
		skipStrings(d) // docs
	}
	return fs
}

// readRegistry decodes a scale-info PortableRegistry: Vec<{id: Compact<u32>, ty: Type}>.
func readRegistry(d *scale.Decoder) []Type {
	n := d.Len(4)
	types := make([]Type, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		var t Type
		t.ID = readTypeID(d)
		if d.Err() == nil && t.ID != uint32(i) {
			d.Fail(fmt.Errorf("%w: type registry entry %d has id %d (ids must be sequential)", scale.ErrInvalid, i, t.ID))
			break
		}
		t.Path = readStrings(d)
		np := d.Len(2)
		for j := 0; j < np && d.Err() == nil; j++ {
			p := TypeParam{Name: d.Str()}
			if d.Option() {
				id := readTypeID(d)
				p.Type = &id
			}
			t.Params = append(t.Params, p)
		}
		t.Def = readTypeDef(d)
		skipStrings(d) // docs
		types = append(types, t)
	}
	return types
}

func readTypeDef(d *scale.Decoder) TypeDef {
	var td TypeDef
	td.Kind = Kind(d.U8())
	switch td.Kind {
	case KindComposite:
		td.Fields = readFields(d)
	case KindVariant:
		n := d.Len(4)
		for i := 0; i < n && d.Err() == nil; i++ {
			v := Variant{Name: d.Str()}
			v.Fields = readFields(d)
			v.Index = d.U8()
			v.Docs = readStrings(d)
			td.Variants = append(td.Variants, v)
		}
	case KindSequence, KindCompact:
		td.Elem = readTypeID(d)
	case KindArray:
		td.Len = d.U32()
		td.Elem = readTypeID(d)
	case KindTuple:
		n := d.Len(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			td.Tuple = append(td.Tuple, readTypeID(d))
		}
	case KindPrimitive:
		td.Primitive = Primitive(d.U8())
		if td.Primitive > I256 {
			d.Fail(fmt.Errorf("%w: primitive %d", scale.ErrInvalid, td.Primitive))
		}
	case KindBitSequence:
		td.BitStore = readTypeID(d)
		td.BitOrder = readTypeID(d)
	default:
		d.Fail(fmt.Errorf("%w: type definition kind %d", scale.ErrInvalid, td.Kind))
	}
	return td
}
