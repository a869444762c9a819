package axonproto_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/taominer/taominer/api/axonproto"
)

// Vector 14's message (spec wallet-and-axonproto.md §7); the signature over it
// is checked in api/axon, with the wallet's verifier.
func TestMessageVector(t *testing.T) {
	const (
		alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		bob   = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
		uuid  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	)
	msg := axonproto.Message(1731000000000000000, alice, bob, uuid, axonproto.EmptyBodyHash)
	if want := "1731000000000000000." + alice + "." + bob + "." + uuid + "." + axonproto.EmptyBodyHash; msg != want {
		t.Fatalf("Message = %q, want %q", msg, want)
	}
}

func TestSignatureText(t *testing.T) {
	const sig = "0x6ab41bf1d2b07489a60f68db9304223ae9299a26495eb92e85d5aab18271de5ba415a6a4a65ea5220f8b48dd2d2ccbb6d47386fef1bd9eb4644b94ce2b5d2981"
	b, err := axonproto.ParseSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	if got := axonproto.FormatSignature(b); got != sig {
		t.Errorf("FormatSignature = %s, want %s", got, sig)
	}
	if up, err := axonproto.ParseSignature("0X" + strings.ToUpper(sig[2:])); err != nil || up != b {
		t.Errorf("upper-case hex: %x, %v", up, err)
	}
	for name, s := range map[string]string{"no 0x": sig[2:], "short": sig[:128], "not hex": "0x" + strings.Repeat("g", 128)} {
		if _, err := axonproto.ParseSignature(s); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestBodyHashVectors(t *testing.T) {
	syn, err := axonproto.ParseSynapse([]byte(`{"a": 1, "b": 2, "d": ["foobar"], "x": "ignored"}`))
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
		if got, err := axonproto.BodyHash(syn, tt.fields); err != nil || got != tt.want {
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
		if got, err := axonproto.PyStr(json.RawMessage(in)); err != nil || got != want {
			t.Errorf("PyStr(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// Vector 19: bt_header_input_obj_* placeholders.
func TestPlaceholders(t *testing.T) {
	for empty, want := range map[string]string{`0`: "MA==", `""`: "IiI=", `[]`: "W10=", `{}`: "e30="} {
		var got []string
		axonproto.InputObjHeaders([]axonproto.Field{{Name: "f", Empty: empty}}, func(k, v string) { got = append(got, k+": "+v) })
		if len(got) != 1 || got[0] != "bt_header_input_obj_f: "+want {
			t.Errorf("placeholder of %s = %q, want %s", empty, got, want)
		}
	}
}

func TestPyStrRefusesObjects(t *testing.T) {
	if got, err := axonproto.PyStr(json.RawMessage(`[{"a": 1}]`)); err == nil {
		t.Errorf("PyStr of an object = %q, want an error", got)
	}
}
