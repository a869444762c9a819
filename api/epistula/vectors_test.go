package epistula_test

import (
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/epistula/epistulatest"
	"github.com/taominer/taominer/chain/wallet"
)

// TestVectorMessages rebuilds each positive's body hash and message byte
// for byte from its headers and verifies its request signature (and the
// secret signatures are left alone: the receiver ignores them).
func TestVectorMessages(t *testing.T) {
	v := epistulatest.Load(t)
	for _, p := range v.Positives {
		t.Run(p.ID, func(t *testing.T) {
			body := epistulatest.Unhex(t, p.BodyHex)
			if len(body) != p.BodyLen || string(body) != p.BodyUTF8 {
				t.Fatalf("body: %d bytes %q, fixture says %d bytes %q", len(body), body, p.BodyLen, p.BodyUTF8)
			}
			if got := epistula.BodyHash(body); got != p.BodySha256Hex {
				t.Errorf("BodyHash = %s, want %s", got, p.BodySha256Hex)
			}
			if err := epistula.CheckVersion(p.Header()); err != nil {
				t.Errorf("CheckVersion: %v", err)
			}
			hd, err := epistula.ParseHeaders(p.Header())
			if err != nil {
				t.Fatalf("ParseHeaders: %v", err)
			}
			want := ""
			if p.ReceiverHotkey != nil {
				want = *p.ReceiverHotkey
			}
			if hd.SignedFor != want {
				t.Errorf("SignedFor %q, want %q", hd.SignedFor, want)
			}
			msg := epistula.Message(epistula.BodyHash(body), hd.UUID, hd.Timestamp, hd.SignedFor)
			if msg != p.Message {
				t.Errorf("message\n%s\nwant\n%s", msg, p.Message)
			}
			ok, err := wallet.SS58Verifier{}.Verify(hd.SignedBy, msg, hd.Signature)
			if err != nil || !ok {
				t.Errorf("signature does not verify: %v %v", ok, err)
			}
		})
	}
}

// TestVectorNegativeMessages: the receiver's rebuilt messages of N1 and N2
// match the fixture's and fail to verify; N3's signature itself verifies
// (its refusal is by policy, see TestReceiverVectors).
func TestVectorNegativeMessages(t *testing.T) {
	v := epistulatest.Load(t)
	e1 := v.Positives[0]
	hd, err := epistula.ParseHeaders(e1.Header())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range v.Negatives {
		t.Run(n.ID, func(t *testing.T) {
			if n.BasedOn != e1.ID {
				t.Fatalf("based on %s, want %s", n.BasedOn, e1.ID)
			}
			body := epistulatest.Unhex(t, e1.BodyHex)
			if n.BodyHex != "" {
				body = epistulatest.Unhex(t, n.BodyHex)
				if got := epistula.BodyHash(body); got != n.BodySha256Hex {
					t.Errorf("BodyHash = %s, want %s", got, n.BodySha256Hex)
				}
			}
			msg := epistula.Message(epistula.BodyHash(body), hd.UUID, hd.Timestamp, n.ReceiverHotkey)
			if n.ReceiverRebuiltMessage != "" && msg != n.ReceiverRebuiltMessage {
				t.Errorf("rebuilt message\n%s\nwant\n%s", msg, n.ReceiverRebuiltMessage)
			}
			ok, err := wallet.SS58Verifier{}.Verify(hd.SignedBy, msg, hd.Signature)
			if err != nil || ok != n.Result.CryptoOk {
				t.Errorf("verify = %v, %v; fixture says cryptoOk %v", ok, err, n.Result.CryptoOk)
			}
		})
	}
}

// TestSignVerifies: Sign builds the spec's header set, and its signature
// verifies over the message rebuilt from the headers alone.
func TestSignVerifies(t *testing.T) {
	alice, err := wallet.FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	v := epistulatest.Load(t)
	e1 := v.Positives[0]
	body := epistulatest.Unhex(t, e1.BodyHex)
	s, err := epistula.Sign(alice, body, *e1.ReceiverHotkey, time.UnixMilli(1731000005123), "0b6f2c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d")
	if err != nil {
		t.Fatal(err)
	}
	if s.Message != e1.Message {
		t.Errorf("message\n%s\nwant\n%s", s.Message, e1.Message)
	}
	for _, k := range []string{"Epistula-Version", "Epistula-Timestamp", "Epistula-Uuid", "Epistula-Signed-By", "Epistula-Signed-For", "Content-Type"} {
		if got := s.Header.Get(k); got != e1.Headers[k] {
			t.Errorf("%s = %q, want %q", k, got, e1.Headers[k])
		}
	}
	hd, err := epistula.ParseHeaders(s.Header)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := (wallet.SS58Verifier{}).Verify(hd.SignedBy, epistula.Message(epistula.BodyHash(body), hd.UUID, hd.Timestamp, hd.SignedFor), hd.Signature); !ok || err != nil {
		t.Errorf("our signature does not verify: %v %v", ok, err)
	}
	// An empty body: no Content-Type, the hash of zero bytes.
	s, err = epistula.Sign(alice, nil, *e1.ReceiverHotkey, time.UnixMilli(1), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Header.Get("Content-Type") != "" || !strings.HasPrefix(s.Message, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.") {
		t.Errorf("empty body: Content-Type %q, message %s", s.Header.Get("Content-Type"), s.Message)
	}
}
