package epistula_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/epistula/epistulatest"
)

// FuzzParseHeaders: ParseHeaders never panics, fails only with a
// *HeaderError, and what it accepts is canonical: the timestamp's text is
// its value in decimal, the uuid has the 8-4-4-4-12 form, and the
// signature is the header's 64 bytes.
func FuzzParseHeaders(f *testing.F) {
	epistulatest.AddSeeds(f)
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
