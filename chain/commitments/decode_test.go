package commitments_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/scale"
)

// value is a CommitmentOf value: deposit 0, block 5 000 000, then info (field count and fields).
func value(info ...byte) []byte {
	return append(scale.AppendU32(scale.AppendU64(nil, 0), 5_000_000), info...)
}

func TestDecodeRegistrationErrors(t *testing.T) {
	big := scale.AppendBytes([]byte{0x04, 0x88}, bytes.Repeat([]byte{'a'}, 513))
	tl := scale.AppendBytes([]byte{0x04, 0x86}, bytes.Repeat([]byte{1}, 1025))
	tests := []struct {
		name string
		b    []byte
		is   error
		msg  string
	}{
		{"empty", nil, scale.ErrShortInput, "need 8 bytes at offset 0"},
		{"no field count", value(), scale.ErrShortInput, "offset 12"},
		{"count past the end", value(0x0c, 0x00), scale.ErrShortInput, "length 3 at offset 12 exceeds the 1 bytes left"},
		{"unknown tag", value(0x04, 0x89), scale.ErrInvalid, "invalid Data tag 0x89 at offset 13"},
		{"short Raw", value(0x04, 0x05, 'a', 'b'), scale.ErrShortInput, "need 4 bytes at offset 14"},
		{"short digest", value(0x04, 0x83, 1, 2, 3), scale.ErrShortInput, "need 32 bytes"},
		{"BigRaw over its bound", value(big...), scale.ErrInvalid, "BigRaw of 513 bytes at offset 14, the bound is 512"},
		{"timelock over its bound", value(tl...), scale.ErrInvalid, "TimelockEncrypted of 1025 bytes"},
		{"timelock without round", value(0x04, 0x86, 0x04, 1), scale.ErrShortInput, "need 8 bytes"},
		{"trailing bytes", value(0x04, 0x00, 0xff), scale.ErrInvalid, "1 trailing bytes at offset 14"},
		{"non-canonical count", value(0x05, 0x00, 0x00), scale.ErrInvalid, "non-canonical compact"},
	}
	for _, tt := range tests {
		_, err := commitments.DecodeRegistration(tt.b)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "commitments: decode CommitmentOf: ") {
			t.Errorf("%s: DecodeRegistration(%x) = %v; want %v with %q", tt.name, tt.b, err, tt.is, tt.msg)
		}
	}
	// Every variant decodes and re-encodes to the same bytes.
	all := value(0x20, // 8 fields
		0x00, 0x01, 0x03, 'h', 'i', 0x82)
	all = append(all, bytes.Repeat([]byte{7}, 32)...)
	all = append(all, 0x85)
	all = append(all, bytes.Repeat([]byte{9}, 32)...)
	all = scale.AppendU64(append(all, 0x86, 0x08, 0xaa, 0xbb), 42)
	all = append(all, 0x87, 0x88, 0x0c, 'x', 'y', 'z')
	r, err := commitments.DecodeRegistration(all)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range r.Fields {
		names = append(names, f.String())
	}
	want := `None|Raw0 ""|Raw2 "hi"|BlakeTwo256 0x0707070707070707070707070707070707070707070707070707070707070707|ShaThree256 0x0909090909090909090909090909090909090909090909090909090909090909|TimelockEncrypted (2 bytes of ciphertext, reveal round 42)|ResetBondsFlag|BigRaw "xyz"`
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("fields = %s\nwant     %s", got, want)
	}
	if back, err := commitments.AppendRegistration(nil, r); err != nil || !bytes.Equal(back, all) {
		t.Errorf("re-encoded = %x, %v\nwant %x", back, err, all)
	}
	var sum uint64
	for _, f := range r.Fields {
		sum += f.Cost()
	}
	raw128 := []commitments.Field{{Kind: commitments.Raw, Bytes: make([]byte, 128)}}
	if sum != 2+32+32+2+3 || commitments.Cost(r.Fields) != commitments.MinCost || commitments.Cost(raw128) != 128 {
		t.Errorf("costs: fields %d, commitment %d, Raw128 %d", sum, commitments.Cost(r.Fields), commitments.Cost(raw128))
	}
}

// FuzzDecodeRegistration: no input makes the decoder panic; what it refuses is an error naming
// what is wrong; what it accepts re-encodes to the same bytes, and the metadata's generic decoder
// (driven by the spec-381 type registry) reads it to the last byte as well. The generic decoder
// may accept more (it does not enforce the BoundedVec bounds), never less.
func FuzzDecodeRegistration(f *testing.F) {
	md := loadMetadata(f, 381, 16)
	entry, err := md.StorageEntry("Commitments", "CommitmentOf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixtures.Hex(f, "0x0000000000000000404b4c000418687474703a2f2f3230332e302e3131332e373a38303030"))
	f.Add(value(0x08, 0x03, 'h', 'i', 0x87))
	f.Add(value(0x04, 0x88, 0x0c, 'x', 'y', 'z'))
	f.Add(value(0x04, 0x86, 0x04, 1, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(value(0x04, 0x83))
	f.Add(value(0x04, 0x89))
	f.Add(value(0xfd, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := commitments.DecodeRegistration(b)
		d := scale.NewDecoder(b)
		_, gerr := md.DecodeValue(d, entry.ValueType)
		genericOK := gerr == nil && d.Remaining() == 0
		if err != nil {
			if !strings.HasPrefix(err.Error(), "commitments: decode CommitmentOf: ") ||
				(!errors.Is(err, scale.ErrInvalid) && !errors.Is(err, scale.ErrShortInput)) {
				t.Fatalf("unclear error for %x: %v", b, err)
			}
			return
		}
		if !genericOK {
			t.Fatalf("accepted %x, which the metadata's type refuses: %v (%d bytes left)", b, gerr, d.Remaining())
		}
		back, err := commitments.AppendRegistration(nil, r)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("decoded %x to %+v, which re-encodes to %x, %v", b, r, back, err)
		}
	})
}
