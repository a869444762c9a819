package receiver_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/epistula/receiver"
	"github.com/taominer/taominer/chain/wallet"
)

// BenchmarkRefusal measures what each refusal costs the receiver, from the
// request's arrival at ServeHTTP to its answer (no network), and reports it
// as a ratio to the raw limit measured in the same run: one sr25519
// verification of an Epistula message (x_verify: each case's time over as
// many verifications timed right after it; raw_sr25519_verify gives the
// absolute figure). Checks before the
// signature should cost a small fraction of one; bad_signature and
// rate_limited (which comes after verification) about one; a replay is
// refused by the replay store's read-only look before verifying. admitted is
// a whole admission with a no-op route.
func BenchmarkRefusal(b *testing.B) {
	alice, bob, charlie := key(b, "//Alice"), key(b, "//Bob"), key(b, "//Charlie")
	body := []byte(`{"inputs":[{"name":"input__0","shape":[1,3],"datatype":"FP32","data":[0.1,0.2,0.3]}]}`)
	now := timeMs(1731000005123)
	sign := func(k *wallet.Keypair, signedFor string, at time.Time) http.Header {
		s, err := epistula.Sign(k, body, signedFor, at, "")
		if err != nil {
			b.Fatal(err)
		}
		return s.Header
	}
	good := sign(alice, bob.SS58(), now)
	hd, err := epistula.ParseHeaders(good)
	if err != nil {
		b.Fatal(err)
	}
	msg := epistula.Message(epistula.BodyHash(body), hd.UUID, hd.Timestamp, hd.SignedFor)
	verify := func(n int) time.Duration {
		start := time.Now()
		for range n {
			if ok, _ := (wallet.SS58Verifier{}).Verify(hd.SignedBy, msg, hd.Signature); !ok {
				b.Fatal("the raw verification failed")
			}
		}
		return time.Since(start)
	}
	b.Run("raw_sr25519_verify", func(b *testing.B) {
		for b.Loop() {
			verify(1)
		}
		b.ReportMetric(1, "x_verify")
	})

	with := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
	forged := with(sign(charlie, bob.SS58(), now), "Epistula-Signed-By", alice.SS58())
	notForUs, stale, stranger := sign(alice, charlie.SS58(), now), sign(alice, bob.SS58(), now.Add(-time.Minute)), sign(charlie, bob.SS58(), now)
	cases := []struct {
		name   string
		path   string
		header func() http.Header
		status int
		rate   float64
	}{
		{"unknown_route", "/nowhere", func() http.Header { return good }, 404, 0},
		{"unknown_version", "", func() http.Header { return with(good, "Epistula-Version", "1") }, 400, 0},
		{"bad_header", "", func() http.Header { return with(good, "Epistula-Timestamp", "+1") }, 400, 0},
		{"wrong_signed_for", "", func() http.Header { return notForUs }, 400, 0},
		{"stale_timestamp", "", func() http.Header { return stale }, 401, 0},
		{"not_allowed", "", func() http.Header { return stranger }, 403, 0},
		{"replayed", "", func() http.Header { return good }, 401, 0},
		{"bad_signature", "", func() http.Header { return forged }, 401, 0},
		{"rate_limited", "", nil, 429, 1e-9},
		{"admitted", "", nil, 200, 0},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ax, err := axon.New(axon.Options{Hotkey: bob.SS58(), Verifier: wallet.SS58Verifier{}, Allow: []string{alice.SS58()},
				RateLimit: tc.rate, Burst: 1})
			if err != nil {
				b.Fatal(err)
			}
			rc, err := receiver.New(receiver.Options{Hotkey: bob.SS58(), Verifier: wallet.SS58Verifier{}, Policy: ax,
				Routes:          receiver.Routes{KServe: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})},
				ReplayStoreSize: 1 << 22, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			path := tc.path
			if path == "" {
				path = "/v2/models/m/infer"
			}
			serve := func(h http.Header) int {
				r := httptest.NewRequest("POST", path, bytes.NewReader(body))
				r.Header = h
				w := httptest.NewRecorder()
				rc.ServeHTTP(w, r)
				return w.Code
			}
			if tc.name == "replayed" || tc.name == "rate_limited" {
				if code := serve(sign(alice, bob.SS58(), now)); code != 200 && tc.name == "rate_limited" {
					b.Fatalf("first request: %d", code)
				}
				serve(good)
			}
			header := tc.header
			if header == nil { // a fresh, validly signed request each time (signed outside the timer)
				header = func() http.Header { b.StopTimer(); defer b.StartTimer(); return sign(alice, bob.SS58(), now) }
			}
			b.ReportAllocs()
			for b.Loop() {
				if code := serve(header()); code != tc.status {
					b.Fatalf("status %d, want %d", code, tc.status)
				}
			}
			// The raw limit, measured right after with as many verifications,
			// so that both see the same machine.
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed())/float64(verify(b.N)), "x_verify")
		})
	}
}
