package extrinsic_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"testing"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"

	"github.com/taominer/taominer/chain/extrinsic"
	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
)

// Compile-time check that the test signer satisfies the package's Signer.
var _ extrinsic.Signer = (*testSigner)(nil)

// testSigner signs with an sr25519 key made from a fixed mini secret.
type testSigner struct {
	sk  *schnorrkel.SecretKey
	pub [32]byte
}

func newTestSigner(t *testing.T) *testSigner {
	t.Helper()
	var seed [32]byte
	copy(seed[:], "taominer extrinsic test key seed")
	ms, err := schnorrkel.NewMiniSecretKeyFromRaw(seed)
	if err != nil {
		t.Fatal(err)
	}
	sk := ms.ExpandEd25519()
	pk, err := sk.Public()
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{sk: sk, pub: pk.Encode()}
}

func (s *testSigner) PublicKey() [32]byte { return s.pub }

func (s *testSigner) Sign(msg []byte) ([64]byte, error) {
	sig, err := s.sk.Sign(schnorrkel.NewSigningContext([]byte("substrate"), msg))
	if err != nil {
		return [64]byte{}, err
	}
	return sig.Encode(), nil
}

// verify checks an sr25519 signature over msg with signing context "substrate".
func verify(t *testing.T, pub [32]byte, sig [64]byte, msg []byte) bool {
	t.Helper()
	pk, err := schnorrkel.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	var s schnorrkel.Signature
	if err := s.Decode(sig); err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	ok, err := pk.Verify(&s, schnorrkel.NewSigningContext([]byte("substrate"), msg))
	return err == nil && ok
}

// ss58Decode is a minimal SS58 (prefix 42) decoder for the test vectors; it does not check the
// checksum (the vectors are trusted) but does check the prefix and length.
func ss58Decode(t *testing.T, addr string) [32]byte {
	t.Helper()
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int)
	for _, c := range addr {
		i := bytes.IndexRune([]byte(alphabet), c)
		if i < 0 {
			t.Fatalf("bad base58 %q", addr)
		}
		n.Mul(n, big.NewInt(58)).Add(n, big.NewInt(int64(i)))
	}
	b := n.Bytes()
	if len(b) != 35 || b[0] != 42 {
		t.Fatalf("ss58 %s: %d bytes, prefix %d", addr, len(b), b[0])
	}
	var out [32]byte
	copy(out[:], b[1:33])
	return out
}

func hash32(t *testing.T, s string) [32]byte {
	var h [32]byte
	if b := fixtures.Hex(t, s); len(b) == 32 {
		copy(h[:], b)
	} else {
		t.Fatalf("hash %s: %d bytes", s, len(b))
	}
	return h
}

type vectorFile struct {
	Metadata           string   `json:"metadata"`
	SpecVersion        uint32   `json:"specVersion"`
	TransactionVersion uint32   `json:"transactionVersion"`
	GenesisHash        string   `json:"genesisHash"`
	SignedExtensions   []string `json:"signedExtensions"`
	Signer             struct {
		PublicKey string `json:"publicKey"`
	} `json:"signer"`
	Vectors []struct {
		Method    string          `json:"method"`
		Args      json.RawMessage `json:"args"`
		Nonce     uint32          `json:"nonce"`
		Tip       uint64          `json:"tip"`
		Era       json.RawMessage `json:"era"`
		BlockHash string          `json:"blockHash"`
		Call      string          `json:"callHex"`
		Payload   string          `json:"signingPayloadHex"`
		Example   string          `json:"exampleSignedExtrinsicHex"`
	} `json:"vectors"`
}

func buildCall(t *testing.T, m *metadata.Metadata, method string, raw json.RawMessage) extrinsic.Call {
	t.Helper()
	var (
		c   extrinsic.Call
		err error
	)
	switch method {
	case "burned_register":
		var a struct {
			NetUID uint16 `json:"netuid"`
			Hotkey string `json:"hotkey"`
		}
		mustJSON(t, raw, &a)
		c, err = extrinsic.BurnedRegister(m, a.NetUID, ss58Decode(t, a.Hotkey))
	case "serve_axon":
		var a struct {
			NetUID       uint16 `json:"netuid"`
			Version      uint32 `json:"version"`
			IP           string `json:"ip"`
			Port         uint16 `json:"port"`
			IPType       uint8  `json:"ipType"`
			Protocol     uint8  `json:"protocol"`
			Placeholder1 uint8  `json:"placeholder1"`
			Placeholder2 uint8  `json:"placeholder2"`
		}
		mustJSON(t, raw, &a)
		// Fixture quirk: the runtime-metadata vectors list ipType 4, but their callHex (and so
		// payload and signature) encode ip_type 0 — @polkadot/types did not map the camelCase
		// "ipType" key to the metadata's "ip_type" field and used the default. We reproduce the
		// bytes as recorded; TestServeAxonIPTypeQuirk pins the discrepancy.
		if a.IPType == 4 && a.Protocol == 4 && a.Version == 1 {
			a.IPType = 0
		}
		ip, perr := strconv.ParseUint(a.IP, 10, 64)
		if perr != nil {
			t.Fatal(perr)
		}
		c, err = extrinsic.ServeAxon(m, extrinsic.Axon{NetUID: a.NetUID, Version: a.Version, IP: scale.Uint128{Lo: ip},
			Port: a.Port, IPType: a.IPType, Protocol: a.Protocol, Placeholder1: a.Placeholder1, Placeholder2: a.Placeholder2})
	case "set_weights":
		var a struct {
			NetUID     uint16   `json:"netuid"`
			Dests      []uint16 `json:"dests"`
			Weights    []uint16 `json:"weights"`
			VersionKey uint64   `json:"versionKey"`
		}
		mustJSON(t, raw, &a)
		c, err = extrinsic.SetWeights(m, a.NetUID, a.Dests, a.Weights, a.VersionKey)
	default:
		t.Fatalf("unknown method %s", method)
	}
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return c
}

func mustJSON(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// TestRuntimeMetadataVectors reproduces call and signing payload byte for byte for specs 218,
// 300 and 381 (vectors made with @polkadot/types), verifies the vectors' own signatures over our
// payload, and signs and verifies our own extrinsic.
func TestRuntimeMetadataVectors(t *testing.T) {
	signer := newTestSigner(t)
	for _, file := range []string{"vectors-spec218-local.json", "vectors-spec300-local.json", "vectors-spec381-finney.json"} {
		t.Run(file, func(t *testing.T) {
			var vf vectorFile
			mustJSON(t, fixtures.Read(t, file), &vf)
			m, err := metadata.Decode(fixtures.MetadataBlob(t, vf.Metadata))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range m.Extrinsic.Extensions {
				names = append(names, e.Identifier)
			}
			if len(vf.SignedExtensions) > 0 && !equalStrings(names, vf.SignedExtensions) {
				t.Errorf("extensions %v, vectors list %v", names, vf.SignedExtensions)
			}
			alice := hash32(t, vf.Signer.PublicKey)
			for i, v := range vf.Vectors {
				call := buildCall(t, m, v.Method, v.Args)
				if got := "0x" + hex.EncodeToString(call); got != v.Call {
					t.Errorf("#%d %s call = %s\nwant %s", i, v.Method, got, v.Call)
				}
				p := extrinsic.Params{
					SpecVersion: vf.SpecVersion, TransactionVersion: vf.TransactionVersion,
					GenesisHash: hash32(t, vf.GenesisHash), BlockHash: hash32(t, v.BlockHash),
					Nonce: v.Nonce, Tip: v.Tip,
				}
				var era struct {
					Current, Period uint64
					Encoded         string
				}
				if string(v.Era) != `"immortal"` {
					mustJSON(t, v.Era, &era)
					p.Era = scale.MortalEra(era.Current, era.Period)
					if got := "0x" + hex.EncodeToString(scale.AppendEra(nil, p.Era)); got != era.Encoded {
						t.Errorf("#%d era = %s, want %s", i, got, era.Encoded)
					}
				}
				checkVector(t, m, signer, alice, call, p, v.Payload, v.Example)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkVector compares the payload, verifies the example's signature over it, and signs anew.
func checkVector(t *testing.T, m *metadata.Metadata, signer *testSigner, exampleSigner [32]byte, call extrinsic.Call, p extrinsic.Params, wantPayload, example string) {
	t.Helper()
	payload, err := extrinsic.SigningPayload(m, call, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := "0x" + hex.EncodeToString(payload); got != wantPayload {
		t.Errorf("payload = %s\nwant      %s", got, wantPayload)
	}
	ex := fixtures.Hex(t, example)
	dec, err := extrinsic.Decode(m, ex)
	if err != nil {
		t.Fatalf("decode example: %v", err)
	}
	if dec.Signer != exampleSigner || !bytes.Equal(dec.Call, call) || dec.Nonce != p.Nonce || dec.Tip != p.Tip || dec.Era != p.Era {
		t.Errorf("example decodes to %+v", dec)
	}
	if !verify(t, exampleSigner, dec.Signature, extrinsic.SigningMessage(payload)) {
		t.Error("the vector's signature does not verify over our payload")
	}

	ours, err := extrinsic.Sign(m, call, p, signer)
	if err != nil {
		t.Fatal(err)
	}
	od, err := extrinsic.Decode(m, ours)
	if err != nil {
		t.Fatal(err)
	}
	if !verify(t, signer.pub, od.Signature, extrinsic.SigningMessage(payload)) {
		t.Error("our signature does not verify")
	}
	// Apart from signer and signature, our extrinsic is byte-identical to the example.
	// Layout: compact length | 0x84 | 0x00 signer[32] | 0x01 sig[64] | rest.
	lp := len(scale.AppendCompact(nil, uint64(len(ex))))
	if len(ours) != len(ex) || !bytes.Equal(ours[:lp+2], ex[:lp+2]) || !bytes.Equal(ours[lp+34:lp+35], ex[lp+34:lp+35]) || !bytes.Equal(ours[lp+99:], ex[lp+99:]) {
		t.Errorf("our extrinsic %x\ndiffers from %x outside signer and signature", ours, ex)
	}
}

// TestSpec343Vectors checks derived/signed_extrinsics_spec343.json (built with GSRPC, verified
// with polkadot.js) against both the v14 and the v15 metadata of spec 343.
func TestSpec343Vectors(t *testing.T) {
	var vf struct {
		Signer struct {
			PublicKey string `json:"public_key"`
		} `json:"signer"`
		Chain struct {
			Genesis   string `json:"genesis_hash"`
			Spec      uint32 `json:"spec_version"`
			TxVersion uint32 `json:"transaction_version"`
			Birth     uint64 `json:"mortal_birth_block"`
			BirthHash string `json:"mortal_birth_hash"`
		} `json:"chain"`
		Vectors map[string]struct {
			Call      string `json:"call"`
			Extrinsic string `json:"extrinsic"`
			Payload   string `json:"signing_payload"`
			Hash      string `json:"extrinsic_hash_blake2_256"`
		} `json:"vectors"`
	}
	mustJSON(t, fixtures.Read(t, "signed_extrinsics_spec343.json"), &vf)
	alice := hash32(t, vf.Signer.PublicKey)
	signer := newTestSigner(t)
	for _, f := range []struct {
		name   string
		opaque bool
	}{{"metadata_v14_spec343.hex", false}, {"metadata_at_version15_spec343.hex", true}} {
		t.Run(f.name, func(t *testing.T) {
			var m *metadata.Metadata
			var err error
			if f.opaque {
				m, err = metadata.DecodeOpaque(fixtures.MetadataBlob(t, f.name))
			} else {
				m, err = metadata.Decode(fixtures.MetadataBlob(t, f.name))
			}
			if err != nil {
				t.Fatal(err)
			}
			genesis := hash32(t, vf.Chain.Genesis)
			base := extrinsic.Params{SpecVersion: vf.Chain.Spec, TransactionVersion: vf.Chain.TxVersion, GenesisHash: genesis}

			br, err := extrinsic.BurnedRegister(m, 1, alice)
			if err != nil {
				t.Fatal(err)
			}
			v := vf.Vectors["burned_register_immortal"]
			if got := "0x" + hex.EncodeToString(br); got != v.Call {
				t.Errorf("burned_register call = %s, want %s", got, v.Call)
			}
			p := base
			p.BlockHash = genesis
			checkVector(t, m, signer, alice, br, p, v.Payload, v.Extrinsic)
			if h := extrinsic.Hash(fixtures.Hex(t, v.Extrinsic)); "0x"+hex.EncodeToString(h[:]) != v.Hash {
				t.Errorf("extrinsic hash = %x, want %s", h, v.Hash)
			}

			// serve_axon(1, 10002000, 1.2.3.4, 8091, 4, 4, 0, 0), nonce 5, mortal 128 at 6852690.
			sa, err := extrinsic.ServeAxon(m, extrinsic.Axon{NetUID: 1, Version: 10002000, IP: scale.Uint128{Lo: 1<<24 | 2<<16 | 3<<8 | 4},
				Port: 8091, IPType: 4, Protocol: 4})
			if err != nil {
				t.Fatal(err)
			}
			v = vf.Vectors["serve_axon_mortal128"]
			if got := "0x" + hex.EncodeToString(sa); got != v.Call {
				t.Errorf("serve_axon call = %s, want %s", got, v.Call)
			}
			p = base
			p.Era = scale.MortalEra(vf.Chain.Birth, 128)
			if p.Era.Birth(vf.Chain.Birth) != vf.Chain.Birth {
				t.Errorf("birth = %d", p.Era.Birth(vf.Chain.Birth))
			}
			p.BlockHash = hash32(t, vf.Chain.BirthHash)
			p.Nonce = 5
			checkVector(t, m, signer, alice, sa, p, v.Payload, v.Extrinsic)
		})
	}
}

// TestLongPayloadIsHashed signs a set_weights call whose payload exceeds 256 bytes: the signature
// must verify over blake2b-256(payload), not over the payload.
func TestLongPayloadIsHashed(t *testing.T) {
	m, err := metadata.Decode(fixtures.MetadataBlob(t, "metadata-spec381-v16.scale"))
	if err != nil {
		t.Fatal(err)
	}
	dests := make([]uint16, 100)
	weights := make([]uint16, 100)
	for i := range dests {
		dests[i], weights[i] = uint16(i), uint16(i*7)
	}
	call, err := extrinsic.SetWeights(m, 3, dests, weights, 0)
	if err != nil {
		t.Fatal(err)
	}
	var genesis [32]byte
	p := extrinsic.Params{SpecVersion: 381, TransactionVersion: 1, GenesisHash: genesis, BlockHash: genesis}
	payload, err := extrinsic.SigningPayload(m, call, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) <= 256 || len(extrinsic.SigningMessage(payload)) != 32 {
		t.Fatalf("payload %d bytes, message %d bytes", len(payload), len(extrinsic.SigningMessage(payload)))
	}
	s := newTestSigner(t)
	ext, err := extrinsic.Sign(m, call, p, s)
	if err != nil {
		t.Fatal(err)
	}
	d, err := extrinsic.Decode(m, ext)
	if err != nil {
		t.Fatal(err)
	}
	if !verify(t, s.pub, d.Signature, extrinsic.SigningMessage(payload)) {
		t.Error("signature does not verify over the hashed payload")
	}
	if verify(t, s.pub, d.Signature, payload) {
		t.Error("signature verifies over the unhashed payload")
	}
}

func TestErrors(t *testing.T) {
	m, err := metadata.Decode(fixtures.MetadataBlob(t, "metadata-spec300-v14.scale"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extrinsic.RegisterLimit(m, 1, [32]byte{}, 1); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("RegisterLimit on spec 300: %v, want ErrNotFound", err)
	}
	call, _ := extrinsic.BurnedRegister(m, 1, [32]byte{1})
	// Immortal with a block hash other than genesis.
	if _, err := extrinsic.SigningPayload(m, call, extrinsic.Params{BlockHash: [32]byte{1}}); err == nil {
		t.Error("immortal extrinsic with non-genesis block hash accepted")
	}
	// An unknown extension with a non-empty type must fail loudly: pretend CheckWeight carries a u32.
	m2 := *m
	m2.Extrinsic.Extensions = append([]metadata.Extension(nil), m.Extrinsic.Extensions...)
	u32Type := uint32(0)
	for i, ty := range m.Types {
		if ty.Def.Kind == metadata.KindPrimitive && ty.Def.Primitive == metadata.U32 {
			u32Type = uint32(i)
			break
		}
	}
	m2.Extrinsic.Extensions = append(m2.Extrinsic.Extensions, metadata.Extension{Identifier: "FancyNewExtension", Type: u32Type, Implicit: u32Type})
	if _, err := extrinsic.SigningPayload(&m2, call, extrinsic.Params{}); !errors.Is(err, extrinsic.ErrUnknownExtension) {
		t.Errorf("unknown extension: %v, want ErrUnknownExtension", err)
	}
	// A runtime that changed an argument's type is refused.
	m3 := *m
	m3.Types = append([]metadata.Type(nil), m.Types...)
	c, _ := m.Call("SubtensorModule", "burned_register")
	p, _ := m.Pallet("SubtensorModule")
	callType := m3.Types[*p.Calls]
	variants := append([]metadata.Variant(nil), callType.Def.Variants...)
	for i := range variants {
		if variants[i].Index == c.CallIndex {
			fields := append([]metadata.Field(nil), variants[i].Fields...)
			fields[0].Type = u32Type
			variants[i].Fields = fields
		}
	}
	callType.Def.Variants = variants
	m3.Types[*p.Calls] = callType
	if _, err := extrinsic.BurnedRegister(&m3, 1, [32]byte{}); err == nil {
		t.Error("changed argument type accepted")
	}
}

// TestServeAxonIPTypeQuirk pins the one discrepancy found in the runtime-metadata vectors: their
// serve_axon args say ipType 4 but the call bytes carry ip_type 0 (byte 27). The spec-343 vector
// (GSRPC-built, polkadot.js-checked) has ip_type 4 as expected.
func TestServeAxonIPTypeQuirk(t *testing.T) {
	var vf vectorFile
	mustJSON(t, fixtures.Read(t, "vectors-spec381-finney.json"), &vf)
	for _, v := range vf.Vectors {
		if v.Method != "serve_axon" {
			continue
		}
		call := fixtures.Hex(t, v.Call)
		if len(call) != 30 || call[26] != 0 || call[27] != 4 {
			t.Errorf("serve_axon vector call %x: expected ip_type 0, protocol 4 at bytes 26, 27", call)
		}
	}
}

// TestAddStakeAcrossRuntimes encodes add_stake against every recorded runtime: the call index
// comes from each runtime's metadata and the arguments keep the shape the builder expects.
func TestAddStakeAcrossRuntimes(t *testing.T) {
	hotkey := [32]byte{1, 2, 3}
	for _, blob := range []string{"metadata-spec218-v14.scale", "metadata-spec300-v14.scale",
		"metadata-spec346-v16.scale", "metadata-spec381-v16.scale"} {
		t.Run(blob, func(t *testing.T) {
			m, err := metadata.Decode(fixtures.MetadataBlob(t, blob))
			if err != nil {
				t.Fatal(err)
			}
			c, err := extrinsic.AddStake(m, hotkey, 7, 1_000_000_000)
			if err != nil {
				t.Fatal(err)
			}
			mc, err := m.Call("SubtensorModule", "add_stake")
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{mc.PalletIndex, mc.CallIndex}, hotkey[:]...)
			want = append(want, 7, 0, 0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0)
			if !bytes.Equal(c, want) {
				t.Fatalf("add_stake = %x, want %x", []byte(c), want)
			}
		})
	}
}
