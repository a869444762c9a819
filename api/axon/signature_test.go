package axon_test

import (
	"strings"
	"testing"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/chain/wallet"
)

// The wallet's verifier is what package main wires.
var _ axon.Verifier = wallet.SS58Verifier{}

// Vector 14 of spec wallet-and-axon.md §7, checked as the axon checks
// callers: the SDK's messages and the refusal reasons.
func TestSignatureVector(t *testing.T) {
	const (
		alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		bob   = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
		uuid  = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
		sig   = "0x6ab41bf1d2b07489a60f68db9304223ae9299a26495eb92e85d5aab18271de5ba415a6a4a65ea5220f8b48dd2d2ccbb6d47386fef1bd9eb4644b94ce2b5d2981"
	)
	ax, err := axon.New(axon.Options{Hotkey: bob, Verifier: wallet.SS58Verifier{}})
	if err != nil {
		t.Fatal(err)
	}
	msg := axonproto.Message(1731000000000000000, alice, bob, uuid, axonproto.EmptyBodyHash)
	if _, err := axon.VerifySignature(ax, alice, msg, sig); err != nil {
		t.Errorf("vector 14 does not verify: %v", err)
	}
	// Upper-case hex is accepted.
	if _, err := axon.VerifySignature(ax, alice, msg, "0x"+strings.ToUpper(sig[2:])); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
	for name, tt := range map[string]struct{ hotkey, msg, sig, reason, err string }{
		"message plus one char": {alice, msg + "x", sig, axon.ReasonBadSignature, "Signature mismatch with " + msg + "x and " + sig},
		"other signer":          {bob, msg, sig, axon.ReasonBadSignature, "Signature mismatch with"},
		"no 0x":                 {alice, msg, sig[2:], axon.ReasonBadSignature, "Invalid signature format"},
		"short":                 {alice, msg, sig[:128], axon.ReasonBadSignature, "Invalid signature"},
		"bad hotkey":            {"5Grwva", msg, sig, axon.ReasonBadHotkey, "No SS58 formatted address or public key provided."},
	} {
		reason, err := axon.VerifySignature(ax, tt.hotkey, tt.msg, tt.sig)
		if err == nil || reason != tt.reason || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%s: got %q, %v; want %q, %q", name, reason, err, tt.reason, tt.err)
		}
	}
}

func TestNewNeedsVerifier(t *testing.T) {
	if _, err := axon.New(axon.Options{Hotkey: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"}); err == nil {
		t.Error("New without a Verifier succeeded")
	}
}
