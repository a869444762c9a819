package wallet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
)

// vectorPassword is vector #15's password; its Argon2i key is derived once
// (about 5 s and 0.5 GiB) and shared by the tests of this package.
const vectorPassword = "testing123!"

var (
	vectorKeyOnce sync.Once
	vectorKey     *naclKey
)

func sharedKey() *naclKey {
	vectorKeyOnce.Do(func() { vectorKey = deriveNACLKey([]byte(vectorPassword)) })
	return vectorKey
}

// Vector #15: Argon2i v1.3, t=8, 512 MiB, p=1 over the fixed NaCl salt
// (Go = libsodium crypto_pwhash ALG_ARGON2I13).
func TestArgon2iVector(t *testing.T) {
	const want = "4d45aaf6a0321801d5354e20b817756bf7a3d7b39308b6eb6a42955e0cfe7d5e"
	if got := hex.EncodeToString(sharedKey()[:]); got != want {
		t.Errorf("Argon2i(%q) = %s, want %s", vectorPassword, got, want)
	}
}

func TestNACLRoundTrip(t *testing.T) {
	plain, err := os.ReadFile("testdata/mnemonic4.json")
	if err != nil {
		t.Fatal(err)
	}
	key := sharedKey()
	var nonce [24]byte
	for i := range nonce {
		nonce[i] = byte(i)
	}
	sealed := sealNACLNonce(plain, key, &nonce)
	// Layout: "$NACL" ‖ nonce24 ‖ tag16 ‖ ciphertext.
	if !bytes.HasPrefix(sealed, []byte("$NACL")) || !bytes.Equal(sealed[5:29], nonce[:]) || len(sealed) != 5+24+16+len(plain) {
		t.Fatalf("sealed layout wrong: %x", sealed[:40])
	}
	got, err := openNACL(sealed, key)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("openNACL = %q, %v", got, err)
	}
	random, err := sealNACL(plain, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(random[5:29], sealed[5:29]) {
		t.Errorf("sealNACL reused a nonce")
	}
	if got, err := openNACL(random, key); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("random-nonce round trip = %v", err)
	}
	// Any flipped byte after the nonce fails authentication.
	tampered := bytes.Clone(sealed)
	tampered[40] ^= 1
	if _, err := openNACL(tampered, key); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("tampered: error = %v, want ErrWrongPassword", err)
	}
	other := *key
	other[0] ^= 1
	if _, err := openNACL(sealed, &other); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong key: error = %v, want ErrWrongPassword", err)
	}
	if _, err := openNACL(sealed[:30], key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: error = %v, want ErrCorrupt", err)
	}
}

// TestPolkadotJSON reads a polkadot.js export (scrypt N=2^15) of the vector #4
// key; its secret is in ed25519 form (0xf8c8a8ec…, §6.2).
func TestPolkadotJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/polkadot_js.json")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := FromPolkadotJSON(data, []byte("polkadot-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if kp.SS58() != ss58Mnemonic4 || hex.EncodeToString(kp.secret[:]) != priv4[2:] {
		t.Errorf("FromPolkadotJSON = %s %x, want %s %s", kp.SS58(), kp.secret, ss58Mnemonic4, priv4)
	}
	if _, err := FromPolkadotJSON(data, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: error = %v", err)
	}
	bad := bytes.Replace(data, []byte(`"version":"3"`), []byte(`"version":"2"`), 1)
	if _, err := FromPolkadotJSON(bad, []byte("polkadot-pw")); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("version 2: error = %v", err)
	}
}

func TestAnsibleVault(t *testing.T) {
	data, err := os.ReadFile("testdata/ansible_vault.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/mnemonic4.json")
	got, err := decryptKeyfileData(data, []byte("ansible-pw"))
	if err != nil || !bytes.Equal(got, bytes.TrimSpace(want)) {
		t.Fatalf("decrypt ansible vault = %q, %v", got, err)
	}
	if _, err := decryptKeyfileData(data, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: error = %v", err)
	}
	if _, err := decryptKeyfileData([]byte("$ANSIBLE_VAULT;1.1;AES256\nzz\n"), []byte("x")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt vault: error = %v", err)
	}
}
