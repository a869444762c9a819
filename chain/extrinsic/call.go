package extrinsic

import (
	"fmt"
	"strings"

	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
)

// Call is an encoded call: pallet index, call index, then the SCALE-encoded arguments.
type Call []byte

// arg is one expected argument: its name in the metadata, its shape (see shape) and its encoding.
type arg struct {
	name  string
	shape string
	enc   []byte
}

// encodeCall looks pallet.name up in the metadata, checks that its arguments have the expected
// names and shapes, and encodes it. A mismatch means the runtime changed the call's signature;
// encoding it blindly would submit garbage, so it is an error.
func encodeCall(m *metadata.Metadata, pallet, name string, args ...arg) (Call, error) {
	c, err := m.Call(pallet, name)
	if err != nil {
		return nil, fmt.Errorf("extrinsic: %w", err)
	}
	if len(c.Args) != len(args) {
		return nil, fmt.Errorf("extrinsic: %s.%s takes %d arguments in this runtime, expected %d", pallet, name, len(c.Args), len(args))
	}
	out := Call{c.PalletIndex, c.CallIndex}
	for i, a := range args {
		f := c.Args[i]
		if got := shape(m, f.Type, 0); f.Name != a.name || got != a.shape {
			return nil, fmt.Errorf("extrinsic: %s.%s argument %d is %s: %s in this runtime, expected %s: %s", pallet, name, i, f.Name, got, a.name, a.shape)
		}
		out = append(out, a.enc...)
	}
	return out, nil
}

// shape describes how a type encodes, looking through single-field wrappers (NetUid(u16),
// AccountId32([u8; 32])): "u16", "[u8;32]", "vec<u16>", "compact<u64>", "enum", "struct", ….
func shape(m *metadata.Metadata, id uint32, depth int) string {
	t, err := m.Type(id)
	if err != nil || depth > 16 {
		return "?"
	}
	d := t.Def
	switch d.Kind {
	case metadata.KindPrimitive:
		return d.Primitive.String()
	case metadata.KindComposite:
		if len(d.Fields) == 1 {
			return shape(m, d.Fields[0].Type, depth+1)
		}
		return "struct"
	case metadata.KindArray:
		return fmt.Sprintf("[%s;%d]", shape(m, d.Elem, depth+1), d.Len)
	case metadata.KindSequence:
		return "vec<" + shape(m, d.Elem, depth+1) + ">"
	case metadata.KindCompact:
		return "compact<" + shape(m, d.Elem, depth+1) + ">"
	case metadata.KindTuple:
		parts := make([]string, len(d.Tuple))
		for i, e := range d.Tuple {
			parts[i] = shape(m, e, depth+1)
		}
		return "(" + strings.Join(parts, ",") + ")"
	case metadata.KindVariant:
		return "enum"
	}
	return d.Kind.String()
}

// BurnedRegister encodes SubtensorModule.burned_register(netuid, hotkey), signed by the coldkey.
func BurnedRegister(m *metadata.Metadata, netuid uint16, hotkey [32]byte) (Call, error) {
	return encodeCall(m, "SubtensorModule", "burned_register",
		arg{"netuid", "u16", scale.AppendU16(nil, netuid)},
		arg{"hotkey", "[u8;32]", hotkey[:]},
	)
}

// RegisterLimit encodes SubtensorModule.register_limit(netuid, hotkey, limit_price) (spec 401
// and later; the error wraps metadata.ErrNotFound on older runtimes).
func RegisterLimit(m *metadata.Metadata, netuid uint16, hotkey [32]byte, limitPrice uint64) (Call, error) {
	return encodeCall(m, "SubtensorModule", "register_limit",
		arg{"netuid", "u16", scale.AppendU16(nil, netuid)},
		arg{"hotkey", "[u8;32]", hotkey[:]},
		arg{"limit_price", "u64", scale.AppendU64(nil, limitPrice)},
	)
}

// Axon holds serve_axon's arguments (wallet-and-axon spec §5).
type Axon struct {
	NetUID       uint16
	Version      uint32        // major*1_000_000 + minor*1_000 + patch
	IP           scale.Uint128 // IPv4 a.b.c.d as a<<24|b<<16|c<<8|d, IPv6 as its 128-bit value
	Port         uint16
	IPType       uint8 // 4 or 6
	Protocol     uint8 // 4 for axons
	Placeholder1 uint8
	Placeholder2 uint8
}

// ServeAxon encodes SubtensorModule.serve_axon, signed by the hotkey.
func ServeAxon(m *metadata.Metadata, a Axon) (Call, error) {
	return encodeCall(m, "SubtensorModule", "serve_axon",
		arg{"netuid", "u16", scale.AppendU16(nil, a.NetUID)},
		arg{"version", "u32", scale.AppendU32(nil, a.Version)},
		arg{"ip", "u128", scale.AppendU128(nil, a.IP)},
		arg{"port", "u16", scale.AppendU16(nil, a.Port)},
		arg{"ip_type", "u8", []byte{a.IPType}},
		arg{"protocol", "u8", []byte{a.Protocol}},
		arg{"placeholder1", "u8", []byte{a.Placeholder1}},
		arg{"placeholder2", "u8", []byte{a.Placeholder2}},
	)
}

// SetWeights encodes SubtensorModule.set_weights(netuid, dests, weights, version_key).
func SetWeights(m *metadata.Metadata, netuid uint16, dests, weights []uint16, versionKey uint64) (Call, error) {
	encVec := func(v []uint16) []byte {
		b := scale.AppendCompact(nil, uint64(len(v)))
		for _, x := range v {
			b = scale.AppendU16(b, x)
		}
		return b
	}
	return encodeCall(m, "SubtensorModule", "set_weights",
		arg{"netuid", "u16", scale.AppendU16(nil, netuid)},
		arg{"dests", "vec<u16>", encVec(dests)},
		arg{"weights", "vec<u16>", encVec(weights)},
		arg{"version_key", "u64", scale.AppendU64(nil, versionKey)},
	)
}

// AddStake encodes SubtensorModule.add_stake(hotkey, netuid, amount_staked), signed by the
// coldkey paying amount rao (dTAO runtimes: the TAO buys alpha of netuid for the hotkey).
func AddStake(m *metadata.Metadata, hotkey [32]byte, netuid uint16, amount uint64) (Call, error) {
	return encodeCall(m, "SubtensorModule", "add_stake",
		arg{"hotkey", "[u8;32]", hotkey[:]},
		arg{"netuid", "u16", scale.AppendU16(nil, netuid)},
		arg{"amount_staked", "u64", scale.AppendU64(nil, amount)},
	)
}

// SetCommitment encodes Commitments.set_commitment(netuid, info), signed by the hotkey. info is
// the SCALE-encoded CommitmentInfo (a compact field count, then the Data values); build and check
// it with chain/commitments, which knows the Data encoding and the runtime's limits.
func SetCommitment(m *metadata.Metadata, netuid uint16, info []byte) (Call, error) {
	return encodeCall(m, "Commitments", "set_commitment",
		arg{"netuid", "u16", scale.AppendU16(nil, netuid)},
		arg{"info", "vec<enum>", info},
	)
}
