package axon_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/taominer/taominer/api/axon"
)

// Vectors of spec wallet-and-axon.md §7.
func TestSignatureVector(t *testing.T) {
	const (
		alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		bob   = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
		uuid  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
		sig   = "0x6ab41bf1d2b07489a60f68db9304223ae9299a26495eb92e85d5aab18271de5ba415a6a4a65ea5220f8b48dd2d2ccbb6d47386fef1bd9eb4644b94ce2b5d2981"
	)
	msg := axon.Message(1731000000000000000, alice, bob, uuid, axon.EmptyBodyHash)
	if want := "1731000000000000000." + alice + "." + bob + "." + uuid + "." + axon.EmptyBodyHash; msg != want {
		t.Fatalf("Message = %q, want %q", msg, want)
	}
	if err := axon.VerifySignature(alice, msg, sig); err != nil {
		t.Errorf("vector 14 does not verify: %v", err)
	}
	for name, tt := range map[string]struct{ hotkey, msg, sig string }{
		"message plus one char": {alice, msg + "x", sig},
		"other signer":          {bob, msg, sig},
		"no 0x":                 {alice, msg, sig[2:]},
		"short":                 {alice, msg, sig[:128]},
		"bad hotkey":            {"5Grwva", msg, sig},
	} {
		if err := axon.VerifySignature(tt.hotkey, tt.msg, tt.sig); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// Upper-case hex is accepted.
	up := "0x" + string(toUpper([]byte(sig[2:])))
	if err := axon.VerifySignature(alice, msg, up); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
}

func toUpper(b []byte) []byte {
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 32
		}
	}
	return b
}

func TestBodyHashVectors(t *testing.T) {
	syn, err := axon.ParseSynapse([]byte(`{"a": 1, "b": 2, "d": ["foobar"], "x": "ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fields []string
		want   string
	}{
		{nil, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"},                     // vector 12
		{[]string{"a", "b", "d"}, "ae06397d08f30f75c91395c59f05c62ac3b62b88250eb78b109213258e6ced0c"}, // vector 13
	}
	for _, tt := range tests {
		if got, err := axon.BodyHash(syn, tt.fields); err != nil || got != tt.want {
			t.Errorf("BodyHash(%v) = %s, %v; want %s", tt.fields, got, err, tt.want)
		}
	}
}

func TestPyStr(t *testing.T) {
	for in, want := range map[string]string{
		`"abc"`: "abc", `1`: "1", `12.0`: "12.0", `12.5`: "12.5", `1e-05`: "1e-05", `0.00001`: "1e-05",
		`1e16`: "1e+16", `123456789.0`: "123456789.0", `true`: "True", `false`: "False", `null`: "None",
		`["a", "b"]`: "['a', 'b']", `["it's"]`: `["it's"]`, `[1, [2.0, null]]`: "[1, [2.0, None]]",
	} {
		if got, err := axon.PyStr(json.RawMessage(in)); err != nil || got != want {
			t.Errorf("PyStr(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Vector 19: bt_header_input_obj_* placeholders.
func TestPlaceholders(t *testing.T) {
	for empty, want := range map[string]string{`0`: "MA==", `""`: "IiI=", `[]`: "W10=", `{}`: "e30="} {
		if got := base64.StdEncoding.EncodeToString([]byte(empty)); got != want {
			t.Errorf("placeholder of %s = %s, want %s", empty, got, want)
		}
	}
}

func TestPyStrRefusesObjects(t *testing.T) {
	if got, err := axon.PyStr(json.RawMessage(`[{"a": 1}]`)); err == nil {
		t.Errorf("PyStr of an object = %q, want an error", got)
	}
}
