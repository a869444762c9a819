package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	ss58Mnemonic4 = "5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsX"
	pub4          = "0xe4359ad3e2716c539a1d663ebd0a51bdc5c98a12e663bb4c4402db47828c9446"
	priv4         = "0x1f1995bdf3a17b60626a26cfe6f564b337d46056b7a1281b64c649d592ccda0a9cffd34d9fb01cae1fba61aeed184c817442a2186d5172416729a4b54dd4b84e"
)

func TestDecodeKeyfile(t *testing.T) {
	fixture, err := os.ReadFile("testdata/mnemonic4.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		data       string
		wantSecret bool
	}{
		{"btwallet file", string(fixture), true},
		{"old SDK nulls", `{"accountId":"` + pub4 + `","publicKey":"` + pub4 + `","secretPhrase":null,"secretSeed":null,"privateKey":"` + priv4 + `","ss58Address":"` + ss58Mnemonic4 + `"}`, true},
		{"raw utf-8 seed quirk", `{"secretSeed":"0x\u00e9abc","privateKey":"` + priv4 + `","ss58Address":"` + ss58Mnemonic4 + `"}`, true},
		{"seed only", `{"secretSeed":"0xda3cf5b1e9144931a0f0db65664aab662673b099415a7f8121b7245fb0be4143"}`, true},
		{"upper-case hex", `{"privateKey":"` + strings.ToUpper(priv4[2:]) + `"}`, true},
		{"coldkeypub.txt", `{"accountId":"` + pub4 + `","publicKey":"` + pub4 + `","ss58Address":"` + ss58Mnemonic4 + `"}`, false},
		{"public key only", `{"publicKey":"` + pub4 + `"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := decodeKeyfile([]byte(tt.data))
			if err != nil {
				t.Fatalf("decodeKeyfile(%s): %v", tt.data, err)
			}
			if kp.SS58() != ss58Mnemonic4 || kp.HasSecret() != tt.wantSecret {
				t.Errorf("decodeKeyfile(%s) = %s secret=%v, want %s secret=%v", tt.data, kp.SS58(), kp.HasSecret(), ss58Mnemonic4, tt.wantSecret)
			}
		})
	}
}

func TestDecodeKeyfileCorrupt(t *testing.T) {
	fixture, err := os.ReadFile("testdata/mnemonic4.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		want error
	}{
		{"empty", "", ErrCorrupt},
		{"truncated JSON", string(fixture[:len(fixture)/2]), ErrCorrupt},
		{"not JSON", "hello", ErrCorrupt},
		{"no key fields", `{"foo":"bar"}`, ErrCorrupt},
		{"bad hex private key", `{"privateKey":"0x` + strings.Repeat("zz", 64) + `"}`, ErrCorrupt},
		{"short private key", `{"privateKey":"` + priv4[:len(priv4)-4] + `"}`, ErrCorrupt},
		{"long public key", `{"publicKey":"` + pub4 + `00"}`, ErrCorrupt},
		{"number field", `{"privateKey":12}`, ErrCorrupt},
		{"bad mnemonic", `{"secretPhrase":"old leopard transfer"}`, ErrCorrupt},
		{"bad ss58", `{"ss58Address":"5HDvhV6WDCjCKyrXqGQSDYqQAzkzabNhctmiDYEqgBC66BsY"}`, ErrCorrupt},
		{"ss58 mismatch", `{"privateKey":"` + priv4 + `","ss58Address":"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"}`, ErrCorrupt},
		{"public key mismatch", `{"privateKey":"` + priv4 + `","publicKey":"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"}`, ErrCorrupt},
		{"encrypted", "$NACL" + strings.Repeat("x", 60), ErrEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeKeyfile([]byte(tt.data)); !errors.Is(err, tt.want) {
				t.Errorf("decodeKeyfile(%q) error = %v, want %v", tt.data, err, tt.want)
			}
		})
	}
}

func TestEncodeKeyfile(t *testing.T) {
	kp, err := FromMnemonic(mnemonic4)
	if err != nil {
		t.Fatal(err)
	}
	data := encodeKeyfile(kp)
	var got map[string]string
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("encodeKeyfile is not JSON: %v\n%s", err, data)
	}
	var want map[string]string
	fixture, _ := os.ReadFile("testdata/mnemonic4.json")
	if err := json.Unmarshal(fixture, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("encodeKeyfile fields = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q", k, got[k], v)
		}
	}
	pub := encodePublicKeyfile(kp.PublicKey())
	wantPub := `{"accountId":"` + pub4 + `","publicKey":"` + pub4 + `","ss58Address":"` + ss58Mnemonic4 + `"}`
	if string(pub) != wantPub {
		t.Errorf("public keyfile = %s, want %s", pub, wantPub)
	}
	// A URI key has only the private key, as btwallet writes it.
	alice, _ := FromURI("//Alice")
	var fields map[string]string
	if err := json.Unmarshal(encodeKeyfile(alice), &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["secretSeed"]; ok || fields["privateKey"] == "" || fields["ss58Address"] != alice.SS58() {
		t.Errorf("URI keyfile fields = %v", fields)
	}
	back, err := decodeKeyfile(encodeKeyfile(alice))
	if err != nil || back.secret != alice.secret {
		t.Errorf("URI keyfile round trip: %v", err)
	}
}

func FuzzDecodeKeyfile(f *testing.F) {
	fixture, _ := os.ReadFile("testdata/mnemonic4.json")
	f.Add(fixture)
	f.Add([]byte(`{"privateKey":"` + priv4 + `"}`))
	f.Add([]byte(`{"ss58Address":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := decodeKeyfile(data)
		if err != nil {
			return
		}
		back, err := decodeKeyfile(encodeKeyfile(kp))
		if err != nil || !bytes.Equal(back.pub[:], kp.pub[:]) {
			t.Errorf("re-encoded keyfile of %q: %v", data, err)
		}
	})
}
