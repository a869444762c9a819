package epistula_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/chain/wallet"
)

func fuzzSeeds(f *testing.F) {
	v := loadVectors(f)
	for _, p := range v.Positives {
		h := p.Headers
		f.Add(h["Epistula-Version"], h["Epistula-Timestamp"], h["Epistula-Uuid"], h["Epistula-Signed-By"],
			h["Epistula-Signed-For"], h["Epistula-Request-Signature"], []byte(p.BodyUTF8))
	}
	sig := v.Positives[0].Headers["Epistula-Request-Signature"]
	f.Add("2", "+1731000005123", "0b6f2c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d", "x", "y", sig, []byte{})
	f.Add("2 ", "99999999999999999999", "0B6F2C1E-3D4A-4F5B-8C6D-7E8F9A0B1C2D", "", "", "0X"+strings.ToUpper(sig[2:]), []byte("{"))
	f.Add("02", "1731000005123.0", "0b6f2c1e_3d4a_4f5b_8c6d_7e8f9a0b1c2d", "5Grwva", "\x00", sig[:129]+"g", []byte(nil))
}

// FuzzParseHeaders: ParseHeaders never panics, fails only with a
// *HeaderError, and what it accepts is canonical: the timestamp's text is
// its value in decimal, the uuid has the 8-4-4-4-12 form, and the
// signature is the header's 64 bytes.
func FuzzParseHeaders(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, version, ts, uuid, signedBy, signedFor, sig string, _ []byte) {
		h := http.Header{}
		for k, v := range map[string]string{"Epistula-Version": version, "Epistula-Timestamp": ts, "Epistula-Uuid": uuid,
			"Epistula-Signed-By": signedBy, "Epistula-Signed-For": signedFor, "Epistula-Request-Signature": sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		if err := epistula.CheckVersion(h); (err == nil) != (version == "2") {
			t.Errorf("CheckVersion(%q) = %v", version, err)
		}
		hd, err := epistula.ParseHeaders(h)
		if err != nil {
			if _, ok := err.(*epistula.HeaderError); !ok {
				t.Fatalf("error %T %v is not a *HeaderError", err, err)
			}
			return
		}
		if strconv.FormatInt(hd.TimestampMs, 10) != strings.TrimLeft(hd.Timestamp, "0") && !(hd.TimestampMs == 0 && strings.Trim(hd.Timestamp, "0") == "") {
			t.Errorf("timestamp %q read as %d", hd.Timestamp, hd.TimestampMs)
		}
		if len(hd.UUID) != 36 || strings.Count(hd.UUID, "-") != 4 {
			t.Errorf("uuid %q accepted", hd.UUID)
		}
		if epistula.FormatSignature(hd.Signature) != strings.ToLower("0x"+sig[2:]) {
			t.Errorf("signature %q read as %x", sig, hd.Signature)
		}
		if hd.SignedBy == "" || hd.SignedFor != signedFor {
			t.Errorf("signed by %q for %q", hd.SignedBy, hd.SignedFor)
		}
	})
}

// FuzzReceiver: whatever headers and body arrive, the receiver either
// answers a refusal from its table with an {"error"} body, or runs the
// route for a request whose signature really verifies (the E1 seed, once:
// its second coming is a replay).
func FuzzReceiver(f *testing.F) {
	fuzzSeeds(f)
	bob := key(f, "//Bob").SS58()
	ax, err := axon.New(axon.Options{Hotkey: bob, Verifier: wallet.SS58Verifier{}, Allow: []string{key(f, "//Alice").SS58()}})
	if err != nil {
		f.Fatal(err)
	}
	routed := false
	route := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { routed = true })
	rc, err := epistula.New(epistula.Options{Hotkey: bob, Verifier: wallet.SS58Verifier{}, Policy: ax,
		Routes: epistula.Routes{KServe: route}, Now: func() time.Time { return timeMs(1731000006623) }})
	if err != nil {
		f.Fatal(err)
	}
	allowed := map[int]bool{400: true, 401: true, 403: true}
	f.Fuzz(func(t *testing.T, version, ts, uuid, signedBy, signedFor, sig string, body []byte) {
		r := httptest.NewRequest("POST", "/v2/models/m/infer", strings.NewReader(string(body)))
		for k, v := range map[string]string{"Epistula-Version": version, "Epistula-Timestamp": ts, "Epistula-Uuid": uuid,
			"Epistula-Signed-By": signedBy, "Epistula-Signed-For": signedFor, "Epistula-Request-Signature": sig} {
			r.Header[k] = []string{v}
		}
		w := httptest.NewRecorder()
		routed = false
		rc.ServeHTTP(w, r)
		if routed {
			ok, err := wallet.SS58Verifier{}.Verify(signedBy, epistula.Message(epistula.BodyHash(body), uuid, ts, signedFor), sigBytes(sig))
			if !ok || err != nil || signedFor != bob {
				t.Fatalf("a request without a valid signature was admitted: %v", r.Header)
			}
			return
		}
		if !allowed[w.Code] || !strings.HasPrefix(w.Body.String(), `{"error":"`) {
			t.Fatalf("answer %d %s", w.Code, w.Body)
		}
	})
}

func sigBytes(s string) [64]byte {
	sig, _ := epistula.ParseSignature(s)
	return sig
}
