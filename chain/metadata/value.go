package metadata

import (
	"fmt"
	"math/big"

	"github.com/taominer/taominer/chain/scale"
)

// Value is a decoded SCALE value of some registry type. Its dynamic type is one of: bool,
// string, uint64 (unsigned primitives up to 64 bits and compacts that fit), int64, *big.Int
// (128/256-bit integers and big compacts), []byte (sequences and arrays of u8), []Value
// (sequences, arrays, tuples, unnamed composite fields), map[string]Value (named composite
// fields), VariantValue, or nil (zero-sized values).
type Value any

// VariantValue is a decoded enum value. Fields holds the variant's fields as a composite would
// (nil, map[string]Value or []Value).
type VariantValue struct {
	Name   string
	Index  uint8
	Fields Value
}

const maxDepth = 64

// DecodeValue reads one value of type id from d, driven by the type registry.
func (m *Metadata) DecodeValue(d *scale.Decoder, id uint32) (Value, error) {
	v := m.decode(d, id, 0)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("metadata: decode type %d: %w", id, err)
	}
	return v, nil
}

func (m *Metadata) decode(d *scale.Decoder, id uint32, depth int) Value {
	if d.Err() != nil {
		return nil
	}
	if depth > maxDepth {
		d.Fail(fmt.Errorf("%w: type nesting deeper than %d", scale.ErrInvalid, maxDepth))
		return nil
	}
	t, err := m.Type(id)
	if err != nil {
		d.Fail(err)
		return nil
	}
	switch t.Def.Kind {
	case KindComposite:
		return m.decodeFields(d, t.Def.Fields, depth)
	case KindVariant:
		idx := d.U8()
		if d.Err() != nil {
			return nil
		}
		v, ok := t.Def.VariantByIndex(idx)
		if !ok {
			d.Fail(fmt.Errorf("%w: variant index %d of %s", scale.ErrInvalid, idx, t.PathString()))
			return nil
		}
		return VariantValue{Name: v.Name, Index: idx, Fields: m.decodeFields(d, v.Fields, depth)}
	case KindSequence:
		n := d.Len(1)
		return m.decodeSeq(d, t.Def.Elem, n, depth)
	case KindArray:
		return m.decodeSeq(d, t.Def.Elem, int(t.Def.Len), depth)
	case KindTuple:
		if len(t.Def.Tuple) == 0 {
			return nil
		}
		out := make([]Value, len(t.Def.Tuple))
		for i, e := range t.Def.Tuple {
			out[i] = m.decode(d, e, depth+1)
		}
		return out
	case KindPrimitive:
		return decodePrimitive(d, t.Def.Primitive)
	case KindCompact:
		c := d.CompactBig()
		if c.IsUint64() {
			return c.Uint64()
		}
		return c
	case KindBitSequence:
		return m.decodeBits(d, t.Def.BitStore)
	}
	d.Fail(fmt.Errorf("%w: type kind %v", scale.ErrInvalid, t.Def.Kind))
	return nil
}

func (m *Metadata) decodeFields(d *scale.Decoder, fs []Field, depth int) Value {
	switch {
	case len(fs) == 0:
		return nil
	case fs[0].Name == "":
		if len(fs) == 1 {
			return m.decode(d, fs[0].Type, depth+1)
		}
		out := make([]Value, len(fs))
		for i, f := range fs {
			out[i] = m.decode(d, f.Type, depth+1)
		}
		return out
	}
	out := make(map[string]Value, len(fs))
	for _, f := range fs {
		out[f.Name] = m.decode(d, f.Type, depth+1)
	}
	return out
}

func (m *Metadata) decodeSeq(d *scale.Decoder, elem uint32, n, depth int) Value {
	if et, err := m.Type(elem); err == nil && et.Def.Kind == KindPrimitive && et.Def.Primitive == U8 {
		return d.Bytes(n)
	}
	out := make([]Value, 0, min(n, 1024))
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, m.decode(d, elem, depth+1))
	}
	return out
}

func (m *Metadata) decodeBits(d *scale.Decoder, store uint32) Value {
	bits := d.Compact()
	width := 1
	if t, err := m.Type(store); err == nil && t.Def.Kind == KindPrimitive {
		width = max(t.Def.Primitive.size(), 1)
	}
	words := (bits + uint64(width)*8 - 1) / (uint64(width) * 8)
	if words > uint64(d.Remaining()) {
		d.Fail(fmt.Errorf("%w: bit sequence of %d bits", scale.ErrShortInput, bits))
		return nil
	}
	return d.Bytes(int(words) * width)
}

func decodePrimitive(d *scale.Decoder, p Primitive) Value {
	switch p {
	case Bool:
		return d.Bool()
	case Char:
		return string(rune(d.U32()))
	case Str:
		return d.Str()
	case U8:
		return uint64(d.U8())
	case U16:
		return uint64(d.U16())
	case U32:
		return uint64(d.U32())
	case U64:
		return d.U64()
	case I8:
		return int64(int8(d.U8()))
	case I16:
		return int64(int16(d.U16()))
	case I32:
		return int64(int32(d.U32()))
	case I64:
		return d.I64()
	}
	// 128- and 256-bit integers.
	raw := d.Bytes(p.size())
	if raw == nil {
		return nil
	}
	be := make([]byte, len(raw))
	for i := range raw {
		be[len(raw)-1-i] = raw[i]
	}
	v := new(big.Int).SetBytes(be)
	if (p == I128 || p == I256) && raw[len(raw)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	return v
}
