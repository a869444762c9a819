package scale

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestCompact(t *testing.T) {
	// Values from the SCALE specification and parity-scale-codec's tests.
	tests := []struct {
		v   uint64
		hex string
	}{
		{0, "00"},
		{1, "04"},
		{42, "a8"},
		{63, "fc"},
		{64, "0101"},
		{69, "1501"},
		{16383, "fdff"},
		{16384, "02000100"},
		{1073741823, "feffffff"},
		{1073741824, "0300000040"},
		{1<<32 - 1, "03ffffffff"},
		{1 << 32, "070000000001"},
		{1<<48 - 1, "0bffffffffffff"},
		{100000000000000, "0b00407a10f35a"},
		{1<<64 - 1, "13ffffffffffffffff"},
	}
	for _, tt := range tests {
		got := AppendCompact(nil, tt.v)
		if hex.EncodeToString(got) != tt.hex {
			t.Errorf("AppendCompact(%d) = %x, want %s", tt.v, got, tt.hex)
		}
		d := NewDecoder(unhex(t, tt.hex))
		if v := d.Compact(); v != tt.v || d.Finish() != nil {
			t.Errorf("Compact(%s) = %d, %v; want %d", tt.hex, v, d.Finish(), tt.v)
		}
		gb, err := AppendCompactBig(nil, new(big.Int).SetUint64(tt.v))
		if err != nil || !bytes.Equal(gb, got) {
			t.Errorf("AppendCompactBig(%d) = %x, %v; want %s", tt.v, gb, err, tt.hex)
		}
	}
}

func TestCompactBig(t *testing.T) {
	// 2^64 needs 9 bytes: mode byte (9-4)<<2|3 = 0x17.
	v := new(big.Int).Lsh(big.NewInt(1), 64)
	enc, err := AppendCompactBig(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := "17000000000000000001"; hex.EncodeToString(enc) != want {
		t.Fatalf("AppendCompactBig(2^64) = %x, want %s", enc, want)
	}
	d := NewDecoder(enc)
	if got := d.CompactBig(); got.Cmp(v) != 0 || d.Finish() != nil {
		t.Fatalf("CompactBig = %s, %v; want %s", got, d.Finish(), v)
	}
	// The same bytes do not fit Compact.
	d = NewDecoder(enc)
	d.Compact()
	if !errors.Is(d.Err(), ErrInvalid) {
		t.Fatalf("Compact(2^64) error = %v, want ErrInvalid", d.Err())
	}
	if _, err := AppendCompactBig(nil, big.NewInt(-1)); err == nil {
		t.Fatal("AppendCompactBig(-1) succeeded")
	}
}

func TestCompactBad(t *testing.T) {
	for _, h := range []string{"", "01", "0100", "020000", "02000000", "03ffffff", "03ffffff3f", "0700000000"} {
		d := NewDecoder(unhex(t, h))
		d.Compact()
		if d.Err() == nil {
			t.Errorf("Compact(%q) succeeded", h)
		}
	}
}

func TestFixedAndComposite(t *testing.T) {
	var b []byte
	b = AppendU8(b, 0x12)
	b = AppendU16(b, 0x3456)
	b = AppendU32(b, 10002000)
	b = AppendU64(b, 6852690)
	b = AppendU128(b, Uint128{Lo: 0x01020304})
	b = AppendBool(b, true)
	b = AppendOptionNone(b)
	b = AppendOptionSome(b)
	b = AppendBytes(b, []byte{0xde, 0xad})
	b = AppendString(b, "meta")
	want := "12" + "5634" + "509e9800" + "5290680000000000" + "04030201000000000000000000000000" + "01" + "00" + "01" + "08dead" + "106d657461"
	if hex.EncodeToString(b) != want {
		t.Fatalf("encoded %x\nwant    %s", b, want)
	}
	d := NewDecoder(b)
	if v := d.U8(); v != 0x12 {
		t.Errorf("U8 = %x", v)
	}
	if v := d.U16(); v != 0x3456 {
		t.Errorf("U16 = %x", v)
	}
	if v := d.U32(); v != 10002000 {
		t.Errorf("U32 = %d", v)
	}
	if v := d.U64(); v != 6852690 {
		t.Errorf("U64 = %d", v)
	}
	if v := d.U128(); v != (Uint128{Lo: 0x01020304}) || v.String() != "16909060" {
		t.Errorf("U128 = %v", v)
	}
	if !d.Bool() || d.Option() || !d.Option() {
		t.Error("bool/option mismatch")
	}
	if v := d.VecBytes(); !bytes.Equal(v, []byte{0xde, 0xad}) {
		t.Errorf("VecBytes = %x", v)
	}
	if v := d.Str(); v != "meta" {
		t.Errorf("String = %q", v)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		read func(d *Decoder)
		want error
	}{
		{"short u32", "010203", func(d *Decoder) { d.U32() }, ErrShortInput},
		{"bad bool", "02", func(d *Decoder) { d.Bool() }, ErrInvalid},
		{"bad option", "05", func(d *Decoder) { d.Option() }, ErrInvalid},
		{"vec longer than input", "1001", func(d *Decoder) { d.VecBytes() }, ErrShortInput},
		{"trailing", "0000", func(d *Decoder) { d.U8() }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(unhex(t, tt.in))
			tt.read(d)
			if err := d.Finish(); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
	// Sticky: later reads return zero values.
	d := NewDecoder([]byte{1})
	d.U32()
	if d.U8() != 0 || d.Err() == nil {
		t.Fatal("error not sticky")
	}
}

func TestEra(t *testing.T) {
	// Vectors from the spec (§5.4, computed with polkadot.js) and the runtime-metadata vectors.
	tests := []struct {
		current, period uint64
		hex             string
		phase, birth    uint64
	}{
		{6852690, 128, "2605", 82, 6852690},
		{100, 64, "4502", 36, 100},
		{6852690, 8, "2200", 2, 6852690},
		{1000, 4, "0100", 0, 1000},
		{1000, 5, "0200", 0, 1000},            // period rounded up to 8: phase 1000%8 = 0
		{1001, 3, "1100", 1, 1001},            // period clamped to 4
		{70000, 1 << 20, "7f11", 4464, 70000}, // clamped to 65536, phase quantized by 16
	}
	for _, tt := range tests {
		e := MortalEra(tt.current, tt.period)
		got := AppendEra(nil, e)
		if hex.EncodeToString(got) != tt.hex || e.Phase != tt.phase || e.Birth(tt.current) != tt.birth {
			t.Errorf("MortalEra(%d, %d) = %x phase %d birth %d; want %s phase %d birth %d",
				tt.current, tt.period, got, e.Phase, e.Birth(tt.current), tt.hex, tt.phase, tt.birth)
		}
		d := NewDecoder(got)
		if back := d.Era(); back != e || d.Finish() != nil {
			t.Errorf("Era(%x) = %+v, %v; want %+v", got, back, d.Finish(), e)
		}
	}
	if got := AppendEra(nil, Era{}); !bytes.Equal(got, []byte{0}) {
		t.Errorf("immortal = %x, want 00", got)
	}
	d := NewDecoder([]byte{0})
	if e := d.Era(); !e.Immortal() || d.Finish() != nil {
		t.Errorf("decode immortal = %+v, %v", e, d.Finish())
	}
	// Later blocks in the same window map back to the same birth block.
	e := MortalEra(6852690, 128)
	if b := e.Birth(6852690 + 100); b != 6852690 {
		t.Errorf("Birth(c+100) = %d, want 6852690", b)
	}
}
