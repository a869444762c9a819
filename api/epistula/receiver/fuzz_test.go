package receiver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/epistula/epistulatest"
	"github.com/taominer/taominer/api/epistula/receiver"
	"github.com/taominer/taominer/chain/wallet"
)

// FuzzReceiver: whatever headers and body arrive, the receiver either
// answers a refusal from its table with an {"error"} body, or runs the
// route for a request whose signature really verifies (the E1 seed, once:
// its second coming is a replay).
func FuzzReceiver(f *testing.F) {
	epistulatest.AddSeeds(f)
	bob := key(f, "//Bob").SS58()
	ax, err := axon.New(axon.Options{Hotkey: bob, Verifier: wallet.SS58Verifier{}, Allow: []string{key(f, "//Alice").SS58()}})
	if err != nil {
		f.Fatal(err)
	}
	routed := false
	route := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { routed = true })
	rc, err := receiver.New(receiver.Options{Hotkey: bob, Verifier: wallet.SS58Verifier{}, Policy: ax,
		Routes: receiver.Routes{KServe: route}, Now: func() time.Time { return timeMs(1731000006623) }})
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
