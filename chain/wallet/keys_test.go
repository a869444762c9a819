package wallet

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	schnorrkel "github.com/ChainSafe/go-schnorrkel"
)

const mnemonic4 = "old leopard transfer rib spatial phone calm indicate online fire caution review"

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Vectors #1–#4 and #7 of spec/wallet-and-axon.md §7, plus the privateKey of
// §6.2's test fact.
func TestDerivationVectors(t *testing.T) {
	tests := []struct {
		uri, mini, pub, ss58, priv string
	}{
		{uri: "//Alice", mini: "e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a", pub: "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", ss58: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"},
		{uri: "//Bob", mini: "398f0c28f98885e046333d4a41c19cee4c37368a9832c6502f6cfd182e2aef89", pub: "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48", ss58: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"},
		{uri: "//Charlie", pub: "90b5ab205c6974c9ea841be688864633dc9ca8a357843eeacf2314649965fe22", ss58: "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"},
		{uri: mnemonic4, mini: "da3cf5b1e9144931a0f0db65664aab662673b099415a7f8121b7245fb0be4143", pub: "e4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446", ss58: "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX",
			priv: "1f1995bdf3a17b60626a26cfe6f564b337d46056b7a1281b64c649d592ccda0a9cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e"},
		{uri: mnemonic4 + "//Alice", ss58: "5FEiH8iuDUw271xbqWTWuB6WrDjv5dnCeDX1CyHubAniXDNN"},
		{uri: "bottom drive obey lake curtain smoke basket hold race lonely fit walk//Alice", ss58: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			kp, err := deriveURI(tt.uri)
			if err != nil {
				t.Fatalf("deriveURI(%q): %v", tt.uri, err)
			}
			if tt.mini != "" {
				if kp.seed == nil {
					t.Fatalf("deriveURI(%q): no mini secret", tt.uri)
				}
				if got := hex.EncodeToString(kp.seed[:]); got != tt.mini {
					t.Errorf("mini secret = %s, want %s", got, tt.mini)
				}
			}
			if tt.pub != "" {
				pub := kp.PublicKey()
				if got := hex.EncodeToString(pub[:]); got != tt.pub {
					t.Errorf("public key = %s, want %s", got, tt.pub)
				}
			}
			if kp.SS58() != tt.ss58 {
				t.Errorf("ss58 = %s, want %s", kp.SS58(), tt.ss58)
			}
			if tt.priv != "" {
				if got := hex.EncodeToString(kp.secret[:]); got != tt.priv {
					t.Errorf("privateKey = %s, want %s", got, tt.priv)
				}
			}
			// FromURI keeps no seed or phrase (as btwallet) but the same key.
			pub, err := FromURI(tt.uri)
			if err != nil || pub.SS58() != tt.ss58 || pub.seed != nil || pub.Mnemonic() != "" {
				t.Errorf("FromURI(%q) = %v, %v", tt.uri, pub, err)
			}
		})
	}
}

func TestFromMnemonicAndForms(t *testing.T) {
	kp, err := FromMnemonic("  old leopard transfer rib spatial\tphone calm indicate online fire caution review\n")
	if err != nil {
		t.Fatal(err)
	}
	if kp.SS58() != "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX" || kp.Mnemonic() != mnemonic4 {
		t.Errorf("FromMnemonic = %s %q", kp.SS58(), kp.Mnemonic())
	}
	fromPriv, err := FromPrivateKey(kp.secret)
	if err != nil || fromPriv.SS58() != kp.SS58() {
		t.Errorf("FromPrivateKey = %v, %v; want %s", fromPriv, err, kp.SS58())
	}
	// §6.2: the ed25519-form secret of polkadot.js is a different encoding of
	// the same key; reading it as canonical gives another public key (§9).
	var ed [64]byte
	copy(ed[:], unhex(t, "f8c8a8ec9d0fdd031353337936af279bbda106b3ba0d45d920334eaa9664d6569cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e"))
	sk := schnorrkel.NewSecretKeyFromEd25519Bytes(ed)
	pk, err := sk.Public()
	if err != nil || pk.Encode() != kp.PublicKey() {
		t.Errorf("ed25519-form secret does not give the same public key")
	}
	if wrong, err := FromPrivateKey(ed); err == nil && wrong.PublicKey() == kp.PublicKey() {
		t.Errorf("ed25519 form read as canonical gave the same key")
	}
}

func TestSoftDerivation(t *testing.T) {
	a, err := FromURI("//Bob/test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromURI("//Bob/test")
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicKey() != b.PublicKey() {
		t.Errorf("soft derivation not deterministic: %s vs %s", a.SS58(), b.SS58())
	}
	if a.secret == b.secret {
		t.Errorf("soft-derived nonces are equal; want random nonces as schnorrkel")
	}
	// Soft derivation from the public key alone must agree.
	bob, err := FromURI("//Bob")
	if err != nil {
		t.Fatal(err)
	}
	pk, err := schnorrkel.NewPublicKey(bob.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ek, err := schnorrkel.DeriveKeySimple(pk, []byte{}, chainCode("test"))
	if err != nil {
		t.Fatal(err)
	}
	dpk, err := ek.Public()
	if err != nil || dpk.Encode() != a.PublicKey() {
		t.Errorf("public soft derivation differs from secret soft derivation")
	}
	if a.SS58() == bob.SS58() {
		t.Errorf("//Bob/test equals //Bob")
	}
	// A signature by the derived key verifies under its public key.
	sig, err := a.Sign([]byte("x"))
	if err != nil || !Verify(a.PublicKey(), []byte("x"), sig) {
		t.Errorf("derived key signature does not verify: %v", err)
	}
}

func TestChainCode(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Alice", "14416c696365" + strings.Repeat("00", 26)},
		{"1", "01" + strings.Repeat("00", 31)},
		{"18446744073709551615", strings.Repeat("ff", 8) + strings.Repeat("00", 24)},
	}
	for _, tt := range tests {
		cc := chainCode(tt.name)
		if got := hex.EncodeToString(cc[:]); got != tt.want {
			t.Errorf("chainCode(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
	long := strings.Repeat("x", 40) // 41 bytes encoded: hashed
	if cc := chainCode(long); cc[0] == 0xa0 && cc[1] == 'x' {
		t.Errorf("long junction not hashed")
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		uri  string
		want error
	}{
		{"old leopard transfer rib spatial phone calm indicate online fire caution caution", ErrInvalidMnemonic},
		{"old leopard transfer", ErrInvalidMnemonic},
		{"old leopard transfer rib spatial phone calm indicate online fire caution notaword", ErrInvalidMnemonic},
		{"//Alice//", ErrInvalidURI},
		{"0x1234//Alice", ErrInvalidURI},
	}
	for _, tt := range tests {
		if _, err := FromURI(tt.uri); !errors.Is(err, tt.want) {
			t.Errorf("FromURI(%q) error = %v, want %v", tt.uri, err, tt.want)
		}
	}
	if _, err := FromMnemonic("abandon abandon"); !errors.Is(err, ErrInvalidMnemonic) {
		t.Errorf("FromMnemonic(2 words) error = %v", err)
	}
	// A hex seed URI is the same key as the seed.
	kp, err := FromURI("0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")
	if err != nil || kp.SS58() != "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" {
		t.Errorf("FromURI(alice seed) = %v, %v", kp, err)
	}
}

func TestGenerateMnemonic(t *testing.T) {
	for _, words := range []int{12, 24} {
		m, err := GenerateMnemonic(words)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(m)); n != words {
			t.Errorf("GenerateMnemonic(%d) has %d words", words, n)
		}
		if _, err := FromMnemonic(m); err != nil {
			t.Errorf("generated mnemonic %q invalid: %v", m, err)
		}
	}
	if _, err := GenerateMnemonic(13); err == nil {
		t.Errorf("GenerateMnemonic(13) succeeded")
	}
}

// Vector #14: a signature made by //Alice, verified by polkadot.
func TestSignatureVector(t *testing.T) {
	msg := "1731000000000000000.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY.5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty.6ba7b810-9dad-11d1-80b4-00c04fd430c8.a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
	var sig [64]byte
	copy(sig[:], unhex(t, "6ab41bf1d2b07489a60f68db9304223ae9299a26495eb92e85d5aab18271de5ba415a6a4a65ea5220f8b48dd2d2ccbb6d47386fef1bd9eb4644b94ce2b5d2981"))
	alice, err := FromSS58("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")
	if err != nil {
		t.Fatal(err)
	}
	if !alice.Verify([]byte(msg), sig) {
		t.Errorf("vector signature does not verify")
	}
	if alice.Verify([]byte(msg+"x"), sig) {
		t.Errorf("signature verifies for a changed message")
	}
	if _, err := alice.Sign([]byte(msg)); !errors.Is(err, ErrNoSecret) {
		t.Errorf("public-only Sign error = %v, want ErrNoSecret", err)
	}
	kp, err := FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	s1, err := kp.Sign([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(kp.PublicKey(), []byte(msg), s1) || Verify(kp.PublicKey(), []byte("other"), s1) {
		t.Errorf("sign/verify round trip failed")
	}
	kp.Zero()
	if kp.HasSecret() || kp.secret != [64]byte{} {
		t.Errorf("Zero left secret material")
	}
	if _, err := kp.Sign([]byte(msg)); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Sign after Zero error = %v", err)
	}
}

// The verifier by address: vector #14 again, another signer, and an
// address that is not one.
func TestSS58Verifier(t *testing.T) {
	const (
		alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		bob   = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
	)
	msg := "1731000000000000000." + alice + "." + bob + ".6ba7b810-9dad-11d1-80b4-00c04fd430c8.a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
	var sig [64]byte
	copy(sig[:], unhex(t, "6ab41bf1d2b07489a60f68db9304223ae9299a26495eb92e85d5aab18271de5ba415a6a4a65ea5220f8b48dd2d2ccbb6d47386fef1bd9eb4644b94ce2b5d2981"))
	var v SS58Verifier
	for _, tt := range []struct {
		name, addr, msg string
		ok, err         bool
	}{
		{"vector", alice, msg, true, false},
		{"changed message", alice, msg + "x", false, false},
		{"other signer", bob, msg, false, false},
		{"not an address", "5Grwva", msg, false, true},
	} {
		ok, err := v.Verify(tt.addr, tt.msg, sig)
		if ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("%s: Verify = %v, %v; want %v, error %v", tt.name, ok, err, tt.ok, tt.err)
		}
	}
}
