package commitments_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/chain/commitments"
	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
	"github.com/taominer/taominer/chain/wallet"
)

// vectors is testdata/commitments_vectors.json (fixtures/commitments, see testdata/README.md).
type vectors struct {
	Signer struct {
		PublicKey string `json:"publicKey"`
	} `json:"signer"`
	URL   string `json:"url"`
	Specs map[string]struct {
		PalletIndex uint8 `json:"palletIndex"`
		Raw         struct {
			CallHex string `json:"callHex"`
		} `json:"set_commitment_raw"`
		BigRaw struct {
			DataLen  int    `json:"dataLen"`
			DataUtf8 string `json:"dataUtf8"`
			CallHex  string `json:"callHex"`
		} `json:"set_commitment_bigraw"`
		RawReset struct {
			CallHex string `json:"callHex"`
		} `json:"set_commitment_raw_plus_reset_bonds"`
		Value struct {
			ValueHex string `json:"valueHex"`
			Decoded  struct {
				Deposit string `json:"deposit"` // polkadot.js's human form: "5,000,000"
				Block   string `json:"block"`
				Info    struct {
					Fields []map[string]string `json:"fields"`
				} `json:"info"`
			} `json:"decoded"`
		} `json:"commitmentOf_value_example"`
		Signed struct {
			TransactionVersion uint32 `json:"transactionVersion"`
			GenesisHash        string `json:"genesisHash"`
			SigningPayloadHex  string `json:"signingPayloadHex"`
			SigningPayloadLen  int    `json:"signingPayloadLen"`
			ExtrinsicHex       string `json:"extrinsicHex"`
		} `json:"signed_immortal_nonce0"`
	} `json:"specs"`
	StorageKey struct {
		Key    string `json:"key"`
		Prefix string `json:"prefix_for_all_of_netuid1"`
	} `json:"storageKey"`
}

// readJSON decodes testdata/name into v.
func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// loadMetadata decodes a runtime metadata fixture of chain/testdata/subtensor.
func loadMetadata(t testing.TB, spec uint32, version uint8) *metadata.Metadata {
	t.Helper()
	for _, f := range fixtures.MetadataFiles {
		if f.Spec != spec || f.Version != version {
			continue
		}
		decode := metadata.Decode
		if f.Opaque {
			decode = metadata.DecodeOpaque
		}
		md, err := decode(fixtures.MetadataBlob(t, f.Name))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		return md
	}
	t.Fatalf("no metadata fixture of spec %d v%d", spec, version)
	return nil
}

func hexOf(b []byte) string { return "0x" + hex.EncodeToString(b) }

// TestVectors checks every vector of commitments_vectors.json at specs 343 (v14 and v15 metadata)
// and 381: the three calls, the CommitmentOf key, the stored value, the signing payload and the
// signed extrinsic (whose signature must verify over our payload; ours differs only in the
// randomized signature).
func TestVectors(t *testing.T) {
	var v vectors
	readJSON(t, "commitments_vectors.json", &v)
	alice, err := wallet.FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	if pub := alice.PublicKey(); hexOf(pub[:]) != v.Signer.PublicKey {
		t.Fatalf("//Alice = %x, vectors say %s", alice.PublicKey(), v.Signer.PublicKey)
	}
	for _, rt := range []struct {
		spec    uint32
		version uint8
		key     string
	}{{343, 14, "343"}, {343, 15, "343"}, {381, 16, "381"}} {
		sv := v.Specs[rt.key]
		md := loadMetadata(t, rt.spec, rt.version)
		t.Run(fmt.Sprintf("spec%d-v%d", rt.spec, rt.version), func(t *testing.T) {
			rules, err := commitments.ReadRules(md)
			if err != nil {
				t.Fatal(err)
			}
			url, err := rules.Text(v.URL)
			if err != nil || url.Name() != "Raw23" {
				t.Fatalf("Text(url) = %v, %v; want Raw23", url.Name(), err)
			}
			big, err := rules.Text(sv.BigRaw.DataUtf8)
			if err != nil || big.Kind != commitments.BigRaw || len(sv.BigRaw.DataUtf8) != sv.BigRaw.DataLen {
				t.Fatalf("Text(%d bytes) = %v, %v; want BigRaw", sv.BigRaw.DataLen, big.Name(), err)
			}
			calls := []struct {
				name   string
				fields []commitments.Field
				want   string
			}{
				{"raw", []commitments.Field{url}, sv.Raw.CallHex},
				{"raw+reset_bonds", []commitments.Field{url, {Kind: commitments.ResetBondsFlag}}, sv.RawReset.CallHex},
				{"bigraw", []commitments.Field{big}, sv.BigRaw.CallHex},
			}
			var rawCall extrinsic.Call
			for _, c := range calls {
				call, err := commitments.SetCommitment(md, 1, c.fields)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if got := hexOf(call); got != c.want {
					t.Errorf("%s call = %s\nwant %s", c.name, got, c.want)
				}
				if c.name == "raw" {
					rawCall = call
				}
			}

			key, err := commitments.Key(md, 1, alice.PublicKey())
			if err != nil || hexOf(key) != v.StorageKey.Key {
				t.Errorf("CommitmentOf(1, //Alice) = %x, %v\nwant %s", key, err, v.StorageKey.Key)
			}
			if !strings.HasPrefix(v.StorageKey.Key, v.StorageKey.Prefix) {
				t.Errorf("prefix %s is not the key's", v.StorageKey.Prefix)
			}

			raw := fixtures.Hex(t, sv.Value.ValueHex)
			reg, err := commitments.DecodeRegistration(raw)
			if err != nil {
				t.Fatal(err)
			}
			dv := sv.Value.Decoded
			deposit, _ := strconv.ParseUint(strings.ReplaceAll(dv.Deposit, ",", ""), 10, 64)
			block, _ := strconv.ParseUint(strings.ReplaceAll(dv.Block, ",", ""), 10, 32)
			if len(dv.Info.Fields) != 1 || dv.Info.Fields[0]["Raw23"] != v.URL {
				t.Fatalf("decoded fields %v", dv.Info.Fields)
			}
			want := commitments.Registration{Deposit: deposit, Block: uint32(block), Fields: []commitments.Field{url}}
			if diff := cmp.Diff(want, reg); diff != "" || block != 5_000_000 {
				t.Errorf("decoded value (-want +got):\n%s", diff)
			}
			if back, err := commitments.AppendRegistration(nil, reg); err != nil || !bytes.Equal(back, raw) {
				t.Errorf("re-encoded value = %x, %v; want %x", back, err, raw)
			}
			// The metadata's own type agrees with the hand-written decoder.
			e, err := md.StorageEntry("Commitments", "CommitmentOf")
			if err != nil {
				t.Fatal(err)
			}
			d := scale.NewDecoder(raw)
			if _, err := md.DecodeValue(d, e.ValueType); err != nil || d.Remaining() != 0 {
				t.Errorf("generic decode of the value: %v, %d bytes left", err, d.Remaining())
			}

			genesis := [32]byte(fixtures.Hex(t, sv.Signed.GenesisHash))
			p := extrinsic.Params{SpecVersion: rt.spec, TransactionVersion: sv.Signed.TransactionVersion, GenesisHash: genesis, BlockHash: genesis}
			payload, err := extrinsic.SigningPayload(md, rawCall, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := hexOf(payload); got != sv.Signed.SigningPayloadHex || len(payload) != sv.Signed.SigningPayloadLen {
				t.Errorf("signing payload (%d bytes) = %s\nwant %s", len(payload), got, sv.Signed.SigningPayloadHex)
			}
			ex := fixtures.Hex(t, sv.Signed.ExtrinsicHex)
			dec, err := extrinsic.Decode(md, ex)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Signer != alice.PublicKey() || !bytes.Equal(dec.Call, rawCall) || dec.Nonce != 0 || dec.Tip != 0 {
				t.Errorf("the vector's extrinsic decodes to %+v", dec)
			}
			if !wallet.Verify(alice.PublicKey(), extrinsic.SigningMessage(payload), dec.Signature) {
				t.Error("the vector's signature does not verify over our payload")
			}
			ours, err := extrinsic.Sign(md, rawCall, p, alice)
			if err != nil {
				t.Fatal(err)
			}
			// compact length (2) | 84 | 00 signer (32) | 01 signature (64) | extensions and call
			if len(ours) != len(ex) || !bytes.Equal(ours[:37], ex[:37]) || !bytes.Equal(ours[101:], ex[101:]) {
				t.Errorf("our extrinsic %x\ndiffers from %x outside the signature", ours, ex)
			}
			od, _ := extrinsic.Decode(md, ours)
			if !wallet.Verify(alice.PublicKey(), extrinsic.SigningMessage(payload), od.Signature) {
				t.Error("our signature does not verify")
			}
		})
	}
}

// inspect is testdata/commitments_metadata_inspect.json: the pallet as @polkadot/types reads each
// runtime's metadata.
type inspect map[string]struct {
	SpecVersion uint32 `json:"specVersion"`
	PalletIndex uint8  `json:"palletIndex"`
	Storage     []struct {
		Name string `json:"name"`
	} `json:"storage"`
	Constants []struct {
		Name     string `json:"name"`
		ValueHex string `json:"valueHex"`
	} `json:"constants"`
	Errors      []string `json:"errors"`
	DataType    string   `json:"dataType"`
	NonRaw      []string `json:"dataVariantsNonRaw"`
	RawVariants string   `json:"rawVariantSummary"`
}

// TestRulesAcrossRuntimes reads the rules of every runtime fixture and compares them with the
// independent reading of the same metadata: MaxFields, the Data variants, which rate limit
// applies (RateLimit constant or UsedSpaceOf/MaxSpace), and the pallet errors that name them.
func TestRulesAcrossRuntimes(t *testing.T) {
	var in inspect
	readJSON(t, "commitments_metadata_inspect.json", &in)
	for _, f := range fixtures.MetadataFiles {
		name := fmt.Sprintf("spec%d-v%d", f.Spec, f.Version)
		want, ok := in[name]
		if !ok {
			t.Errorf("%s not in the inspect fixture", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			md := loadMetadata(t, f.Spec, f.Version)
			r, err := commitments.ReadRules(md)
			if err != nil {
				t.Fatal(err)
			}
			consts := map[string]string{}
			for _, c := range want.Constants {
				consts[c.Name] = c.ValueHex
			}
			items := map[string]bool{}
			for _, s := range want.Storage {
				items[s.Name] = true
			}
			if got := hexOf(scale.AppendU32(nil, uint32(r.MaxFields))); got != consts["MaxFields"] {
				t.Errorf("MaxFields = %d, inspect says %s", r.MaxFields, consts["MaxFields"])
			}
			if r.Spec != f.Spec {
				t.Errorf("spec %d, want %d", r.Spec, f.Spec)
			}
			hasBig := false
			for _, v := range want.NonRaw {
				hasBig = hasBig || strings.HasPrefix(v, "136:BigRaw")
			}
			if r.Kinds[commitments.BigRaw] != hasBig || r.Kinds[commitments.TimelockEncrypted] != hasBig || r.Kinds[commitments.ResetBondsFlag] != hasBig {
				t.Errorf("kinds %v, inspect lists %v", r.Kinds, want.NonRaw)
			}
			if !strings.HasPrefix(want.RawVariants, "129 Raw variants: 1:Raw0") {
				t.Errorf("inspect raw variants %q", want.RawVariants)
			}
			if r.SpaceLimit != (items["UsedSpaceOf"] && items["MaxSpace"]) {
				t.Errorf("space limit %v, inspect storage %v", r.SpaceLimit, items)
			}
			errName := "2:SpaceLimitExceeded"
			if !r.SpaceLimit {
				errName = "2:CommitmentSetRateLimitExceeded"
				if got := hexOf(scale.AppendU32(nil, uint32(r.RateLimit))); got != consts["RateLimit"] {
					t.Errorf("RateLimit = %d, inspect says %s", r.RateLimit, consts["RateLimit"])
				}
			}
			if len(want.Errors) < 3 || want.Errors[2] != errName {
				t.Errorf("errors %v, want %s", want.Errors, errName)
			}
			p, _ := md.Pallet("Commitments")
			if p.Index != want.PalletIndex {
				t.Errorf("pallet index %d, want %d", p.Index, want.PalletIndex)
			}
		})
	}
}

// TestRefusedBeforeSubmitting: what a runtime cannot hold is refused while building the call,
// with the limit named.
func TestRefusedBeforeSubmitting(t *testing.T) {
	md218, md381 := loadMetadata(t, 218, 14), loadMetadata(t, 381, 16)
	r218, _ := commitments.ReadRules(md218)
	r381, _ := commitments.ReadRules(md381)
	text := func(n int) string { return strings.Repeat("a", n) }
	raw := func(n int) commitments.Field { return commitments.Field{Kind: commitments.Raw, Bytes: []byte(text(n))} }
	tests := []struct {
		name   string
		md     *metadata.Metadata
		fields []commitments.Field
		is     error
		msg    string
	}{
		{"218: BigRaw", md218, []commitments.Field{{Kind: commitments.BigRaw, Bytes: []byte(text(200))}}, commitments.ErrUnsupported, "runtime spec 218 has no BigRaw"},
		{"218: two fields", md218, []commitments.Field{raw(1), raw(2)}, commitments.ErrTooManyFields, "MaxFields is 1"},
		{"218: ResetBondsFlag", md218, []commitments.Field{{Kind: commitments.ResetBondsFlag}}, commitments.ErrUnsupported, "no ResetBondsFlag"},
		{"381: four fields", md381, []commitments.Field{raw(1), raw(2), raw(3), raw(4)}, commitments.ErrTooManyFields, "MaxFields is 3"},
		{"381: Raw129", md381, []commitments.Field{raw(129)}, commitments.ErrTooLong, "Raw128 is the largest Raw variant"},
		{"381: BigRaw 513", md381, []commitments.Field{{Kind: commitments.BigRaw, Bytes: []byte(text(513))}}, commitments.ErrTooLong, "BigRaw holds at most 512 bytes"},
		{"381: timelock 1025", md381, []commitments.Field{{Kind: commitments.TimelockEncrypted, Bytes: []byte(text(1025))}}, commitments.ErrTooLong, "TimelockEncrypted holds at most 1024 bytes"},
		{"381: short digest", md381, []commitments.Field{{Kind: commitments.Sha256, Bytes: []byte(text(31))}}, commitments.ErrInvalidField, "Sha256 digest is 32 bytes, not 31"},
	}
	for _, tt := range tests {
		call, err := commitments.SetCommitment(tt.md, 1, tt.fields)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: SetCommitment = %x, %v; want %v with %q", tt.name, call, err, tt.is, tt.msg)
		}
	}
	// Text picks the variant by byte length: UTF-8 bytes, not characters.
	texts := []struct {
		rules commitments.Rules
		s     string
		want  string // variant name, or the error's text
	}{
		{r381, text(128), "Raw128"},
		{r381, text(129), "BigRaw"},
		{r381, text(512), "BigRaw"},
		{r381, text(513), "513 bytes do not fit: BigRaw holds at most 512 bytes"},
		{r381, strings.Repeat("é", 64), "Raw128"},
		{r381, strings.Repeat("é", 65), "BigRaw"},
		{r218, text(128), "Raw128"},
		{r218, text(129), "129 bytes do not fit: Raw128 is the largest Raw variant and runtime spec 218 has no BigRaw"},
		{r381, "", "Raw0"},
	}
	for _, tt := range texts {
		f, err := tt.rules.Text(tt.s)
		got := f.Name()
		if err != nil {
			got = err.Error()
			if !errors.Is(err, commitments.ErrTooLong) {
				t.Errorf("Text(%d bytes) error %v is not ErrTooLong", len(tt.s), err)
			}
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("spec %d: Text(%d bytes) = %s, want %s", tt.rules.Spec, len(tt.s), got, tt.want)
		}
	}
}
