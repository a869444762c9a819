// Package epistulatest holds the Epistula v2 test vectors (testdata/, a copy
// of the shared fixtures) and their loader, for tests of api/epistula and
// its receiver.
package epistulatest

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// dir is this package's folder.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Vectors is testdata/epistula_vectors.json (see testdata/README.md).
type Vectors struct {
	Keys map[string]struct {
		SS58      string `json:"ss58"`
		PublicKey string `json:"publicKey"`
	} `json:"keys"`
	Positives []Vector `json:"positives"`
	Negatives []struct {
		ID                     string `json:"id"`
		BasedOn                string `json:"basedOn"`
		ReceiverHotkey         string `json:"receiverHotkey"`
		BodyHex                string `json:"bodyHex"`
		BodySha256Hex          string `json:"bodySha256Hex"`
		ReceiverRebuiltMessage string `json:"receiverRebuiltMessage"`
		VerifyAtNowMs          int64  `json:"verifyAtNowMs"`
		Result                 struct {
			Reason   string `json:"reason"`
			CryptoOk bool   `json:"cryptoOk"`
		} `json:"result"`
	} `json:"negatives"`
}

// Vector is one positive case.
type Vector struct {
	ID             string            `json:"id"`
	ReceiverHotkey *string           `json:"receiverHotkey"`
	VerifyAtNowMs  int64             `json:"verifyAtNowMs"`
	Method         string            `json:"method"`
	Path           string            `json:"path"`
	BodyUTF8       string            `json:"bodyUtf8"`
	BodyHex        string            `json:"bodyHex"`
	BodyLen        int               `json:"bodyLen"`
	BodySha256Hex  string            `json:"bodySha256Hex"`
	Message        string            `json:"message"`
	Headers        map[string]string `json:"headers"`
}

// Load reads the vectors and checks their count.
func Load(t testing.TB) *Vectors {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir(), "testdata", "epistula_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v Vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Positives) != 3 || len(v.Negatives) != 3 {
		t.Fatalf("want 3 positives and 3 negatives, got %d and %d", len(v.Positives), len(v.Negatives))
	}
	return &v
}

// Unhex decodes hex with or without 0x.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Header is the case's headers.
func (v *Vector) Header() http.Header {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return h
}

// AddSeeds adds the fuzz seeds of the Epistula header fuzzers: the
// vectors' headers and bodies, and malformed variants. The arguments are
// version, timestamp, uuid, signed-by, signed-for, signature and body.
func AddSeeds(f *testing.F) {
	v := Load(f)
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
