package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/epistula"
	"github.com/taominer/taominer/api/epistula/epistulatest"
	"github.com/taominer/taominer/api/epistula/receiver"
	"github.com/taominer/taominer/api/guard"
	"github.com/taominer/taominer/chain/wallet"
)

// Compile-time checks: the axon is the receiver's policy, the wallet's
// verifier its verifier and the guard's metrics its counter.
var (
	_ receiver.Policy   = (*axon.Axon)(nil)
	_ receiver.Verifier = wallet.SS58Verifier{}
	_ receiver.Counter  = (*guard.Metrics)(nil)
	_ epistula.Signer   = (*wallet.Keypair)(nil)
)

func timeMs(ms int64) time.Time { return time.UnixMilli(ms) }

func key(t testing.TB, uri string) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.FromURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// metagraph is a chain's view for the policy tests.
type metagraph struct {
	loaded  bool
	callers map[string]axon.Caller
}

func (m *metagraph) Caller(hotkey string) (axon.Caller, bool) {
	c, ok := m.callers[hotkey]
	return c, ok
}

func (m *metagraph) Loaded() bool { return m.loaded }

// env is a receiver for //Bob (unless changed) on a real HTTP server behind
// the axon port's guard, with the axon's policy (//Alice allowed, no chain
// unless a metagraph is set) and a clock the test moves.
type env struct {
	t      testing.TB
	url    string
	reg    *prometheus.Registry
	nowMs  atomic.Int64
	routed atomic.Int64
	last   atomic.Pointer[routed]
	rc     *receiver.Receiver
}

// routed is what a route saw of an admitted request.
type routed struct {
	body     []byte
	caller   receiver.Caller
	priority float64 // receiver.StakePriority of the request's context
}

type setup struct {
	hotkey    string
	axon      axon.Options
	epistula  receiver.Options
	guard     guard.Limits
	metagraph axon.Metagraph
}

// testRouter answers GET /cvm, POST /v1/chat/completions and the KServe
// inference paths with what the route saw.
type testRouter struct{ h http.Handler }

func (r testRouter) Route(method, path string) (http.Handler, []string) {
	switch path {
	case "/cvm":
		if method != http.MethodGet {
			return nil, []string{http.MethodGet}
		}
		return r.h, nil
	case "/v1/chat/completions":
		if method != http.MethodPost {
			return nil, []string{http.MethodPost}
		}
		return r.h, nil
	}
	return nil, nil
}

func newEnv(t testing.TB, tweak func(*setup)) *env {
	t.Helper()
	e := &env{t: t, reg: prometheus.NewRegistry()}
	s := &setup{hotkey: key(t, "//Bob").SS58()}
	s.axon.Allow = []string{key(t, "//Alice").SS58()}
	if tweak != nil {
		tweak(s)
	}
	s.axon.Hotkey, s.axon.Verifier = s.hotkey, wallet.SS58Verifier{}
	if s.metagraph != nil {
		s.axon.Metagraph = s.metagraph
	}
	ax, err := axon.New(s.axon)
	if err != nil {
		t.Fatal(err)
	}
	met, err := guard.NewMetrics(e.reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c, _ := receiver.CallerFrom(r.Context())
		e.routed.Add(1)
		e.last.Store(&routed{body: body, caller: c, priority: receiver.StakePriority(r.Context())})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	o := s.epistula
	o.Hotkey, o.Verifier, o.Policy, o.Refusals = s.hotkey, wallet.SS58Verifier{}, ax, met
	o.Routes = receiver.Routes{KServe: route, Mapped: testRouter{route}}
	o.Now = func() time.Time { return timeMs(e.nowMs.Load()) }
	if e.rc, err = receiver.New(o); err != nil {
		t.Fatal(err)
	}
	port := guard.NewPort("axon", s.guard, nil, met, nil)
	srv := httptest.NewServer(port.Handler("axon", receiver.Split(e.rc, ax)))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// errorText is the {"error": ...} of a refusal; it fails on any other body.
func (a answer) errorText(t testing.TB) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil || len(m) != 1 || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q (%s) is not an {\"error\": ...} JSON body", a.status, a.body, a.header.Get("Content-Type"))
	}
	s, ok := m["error"].(string)
	if !ok || s == "" {
		t.Fatalf("answer %s: no error text", a.body)
	}
	return s
}

func (e *env) send(method, path string, h http.Header, body []byte) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range h {
		req.Header[k] = append([]string(nil), v...)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// signed signs body by uri for signedFor at the env's clock, with a new uuid.
func (e *env) signed(uri string, body []byte, signedFor string) http.Header {
	e.t.Helper()
	s, err := epistula.Sign(key(e.t, uri), body, signedFor, timeMs(e.nowMs.Load()), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Header
}

// refusals reads taominer_refusals_total{port="axon",protocol="epistula",reason}.
func (e *env) refusals(reason string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "taominer_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["port"] == "axon" && l["protocol"] == "epistula" && l["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	e.t.Fatalf("no series for reason %q", reason)
	return 0
}

// TestReceiverVectors runs the fixture's requests through the receiver:
// E1 (to //Bob) and E2 (to //Alice) are admitted with their exact bytes
// and signer; E3 (no Signed-For) is refused 400; N1 (tampered body) 401 bad
// signature; N2 (E1 at //Charlie) 400 wrong Signed-For; N3 (E1 8001 ms
// late) 401 stale.
func TestReceiverVectors(t *testing.T) {
	v := epistulatest.Load(t)
	byID := map[string]epistulatest.Vector{}
	for _, p := range v.Positives {
		byID[p.ID] = p
	}
	alice, bob, charlie := v.Keys["//Alice"].SS58, v.Keys["//Bob"].SS58, v.Keys["//Charlie"].SS58
	e1, e2, e3 := byID["E1_post_kserve_infer_alice_to_bob"], byID["E2_get_empty_body_bob_to_alice"], byID["E3_post_no_signed_for"]
	for _, tc := range []struct {
		name       string
		receiver   string
		allow      string
		p          epistulatest.Vector
		bodyHex    string
		nowMs      int64
		status     int
		reason     string
		wantSigner string
	}{
		{"E1", bob, alice, e1, "", e1.VerifyAtNowMs, 200, "", alice},
		{"E2", alice, bob, e2, "", e2.VerifyAtNowMs, 200, "", bob},
		{"E3", bob, alice, e3, "", e3.VerifyAtNowMs, 400, receiver.ReasonWrongSignedFor, ""},
		{"N1_tampered_body", bob, alice, e1, v.Negatives[0].BodyHex, e1.VerifyAtNowMs, 401, receiver.ReasonBadSignature, ""},
		{"N2_wrong_signed_for", charlie, alice, e1, "", e1.VerifyAtNowMs, 400, receiver.ReasonWrongSignedFor, ""},
		{"N3_stale", bob, alice, e1, "", v.Negatives[2].VerifyAtNowMs, 401, receiver.ReasonStale, ""},
		{"E1_at_the_window_edge", bob, alice, e1, "", 1731000005123 + 8000, 200, "", alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(s *setup) { s.hotkey = tc.receiver; s.axon.Allow = []string{tc.allow} })
			e.nowMs.Store(tc.nowMs)
			body := epistulatest.Unhex(t, tc.p.BodyHex)
			if tc.bodyHex != "" {
				body = epistulatest.Unhex(t, tc.bodyHex)
			}
			a := e.send(tc.p.Method, tc.p.Path, tc.p.Header(), body)
			if a.status != tc.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.status != 200 {
				t.Logf("refused: %s", a.errorText(t))
				if n := e.refusals(tc.reason); n != 1 {
					t.Errorf("refusals{reason=%q} = %v, want 1", tc.reason, n)
				}
				if e.routed.Load() != 0 {
					t.Error("a refused request reached its route")
				}
				return
			}
			got := e.last.Load()
			if got == nil || !bytes.Equal(got.body, body) || got.caller.Hotkey != tc.wantSigner {
				t.Fatalf("route saw %+v, want body %q from %s", got, body, tc.wantSigner)
			}
		})
	}
}

// TestReceiverRefusals: each check's refusal, with its status, an
// {"error": ...} body naming what to fix, its counter, and no route run.
func TestReceiverRefusals(t *testing.T) {
	alice, bob, charlie := key(t, "//Alice").SS58(), key(t, "//Bob").SS58(), key(t, "//Charlie").SS58()
	const now = 1731000005123
	body := []byte(`{"inputs":[]}`)
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	mg := func(loaded bool, c map[string]axon.Caller) func(*setup) {
		return func(s *setup) {
			s.axon.Allow = nil
			s.metagraph = &metagraph{loaded: loaded, callers: c}
			s.axon.MinStake = 1000e9
		}
	}
	for _, tc := range []struct {
		name   string
		setup  func(*setup)
		method string
		path   string
		header func(e *env) http.Header
		body   []byte
		status int
		reason string
		says   string
	}{
		{name: "unknown route", path: "/nowhere", status: 404, reason: receiver.ReasonUnknownRoute, says: "no Epistula route POST /nowhere"},
		{name: "method", method: "GET", path: "/v2/models/m/infer", status: 405, reason: receiver.ReasonMethod, says: "method GET not allowed"},
		{name: "version 1", header: func(e *env) http.Header { return with(e.signed("//Alice", body, bob), "Epistula-Version", "1") },
			status: 400, reason: receiver.ReasonUnknownVersion, says: `unknown Epistula version "1"`},
		{name: "version twice", header: func(e *env) http.Header {
			h := e.signed("//Alice", body, bob)
			h.Add("Epistula-Version", "2")
			return h
		}, status: 400, reason: receiver.ReasonUnknownVersion, says: "sent 2 times"},
		{name: "no uuid", header: func(e *env) http.Header { return with(e.signed("//Alice", body, bob), "Epistula-Uuid", "") },
			status: 400, reason: receiver.ReasonMissingHeader, says: "Epistula-Uuid: missing"},
		{name: "no signature", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Request-Signature", "")
		}, status: 400, reason: receiver.ReasonMissingHeader, says: "Epistula-Request-Signature: missing"},
		{name: "timestamp with sign", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Timestamp", "+1731000005123")
		}, status: 400, reason: receiver.ReasonBadHeader, says: "plain decimal digits"},
		{name: "timestamp in seconds with a fraction", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Timestamp", "1731000005.123")
		}, status: 400, reason: receiver.ReasonBadHeader, says: "milliseconds"},
		{name: "short signature", header: func(e *env) http.Header {
			h := e.signed("//Alice", body, bob)
			return with(h, "Epistula-Request-Signature", h.Get("Epistula-Request-Signature")[:129])
		}, status: 400, reason: receiver.ReasonBadHeader, says: "0x and 128 hex digits"},
		{name: "signature without 0x", header: func(e *env) http.Header {
			h := e.signed("//Alice", body, bob)
			return with(h, "Epistula-Request-Signature", "00"+h.Get("Epistula-Request-Signature")[2:])
		}, status: 400, reason: receiver.ReasonBadHeader, says: "0x and 128 hex digits"},
		{name: "uuid not a uuid", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Uuid", "not-a-uuid")
		}, status: 400, reason: receiver.ReasonBadHeader, says: "is not a uuid"},
		{name: "no signed-for", header: func(e *env) http.Header { return e.signed("//Alice", body, "") },
			status: 400, reason: receiver.ReasonWrongSignedFor, says: "missing; set it to this miner's hotkey " + bob},
		{name: "signed for another", header: func(e *env) http.Header { return e.signed("//Alice", body, charlie) },
			status: 400, reason: receiver.ReasonWrongSignedFor, says: "is not this miner's hotkey"},
		{name: "stale", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Timestamp", "1730999990000")
		}, status: 401, reason: receiver.ReasonStale, says: "15123 ms old"},
		{name: "future", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Timestamp", "1731000013124")
		}, status: 401, reason: receiver.ReasonStale, says: "8001 ms in the future"},
		{name: "seconds, not milliseconds", header: func(e *env) http.Header {
			return with(e.signed("//Alice", body, bob), "Epistula-Timestamp", "1731000005")
		}, status: 401, reason: receiver.ReasonStale, says: "ms old"},
		{name: "denied", setup: func(s *setup) { s.axon.Deny = []string{alice} }, header: func(e *env) http.Header { return e.signed("//Alice", body, bob) },
			status: 403, reason: axon.ReasonDenied, says: "Denied hotkey"},
		{name: "not allowed without chain", header: func(e *env) http.Header { return e.signed("//Charlie", body, bob) },
			status: 403, reason: axon.ReasonNotAllowed, says: "signer " + charlie + " refused"},
		{name: "metagraph not loaded", setup: mg(false, nil), header: func(e *env) http.Header { return e.signed("//Alice", body, bob) },
			status: 503, reason: receiver.ReasonNotLoaded, says: "has not loaded yet"},
		{name: "unregistered", setup: mg(true, nil), header: func(e *env) http.Header { return e.signed("//Alice", body, bob) },
			status: 403, reason: axon.ReasonUnregistered, says: "Unrecognized hotkey"},
		{name: "no permit", setup: mg(true, map[string]axon.Caller{alice: {UID: 1, Stake: 5000e9}}),
			header: func(e *env) http.Header { return e.signed("//Alice", body, bob) }, status: 403, reason: axon.ReasonNoPermit, says: "Non-validator"},
		{name: "low stake", setup: mg(true, map[string]axon.Caller{alice: {UID: 1, Stake: 999e9, ValidatorPermit: true}}),
			header: func(e *env) http.Header { return e.signed("//Alice", body, bob) }, status: 403, reason: axon.ReasonLowStake, says: "999 < 1000 alpha"},
		{name: "signer not an address", setup: func(s *setup) { s.axon.Allow = []string{"not-an-address"} },
			header: func(e *env) http.Header {
				return with(e.signed("//Alice", body, bob), "Epistula-Signed-By", "not-an-address")
			},
			status: 401, reason: receiver.ReasonBadHotkey, says: "not an SS58 address"},
		{name: "signed by another key", setup: func(s *setup) { s.axon.Allow = []string{alice, charlie} },
			header: func(e *env) http.Header { return with(e.signed("//Charlie", body, bob), "Epistula-Signed-By", alice) },
			status: 401, reason: receiver.ReasonBadSignature, says: "does not verify"},
		{name: "body too large", setup: func(s *setup) { s.guard.MaxBodyBytes = 8 },
			header: func(e *env) http.Header { return e.signed("//Alice", body, bob) }, status: 413, reason: guard.ReasonBodyTooLarge, says: "--max-body-bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.setup)
			e.nowMs.Store(now)
			method, path := tc.method, tc.path
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/v2/models/m/infer"
			}
			var h http.Header
			if tc.header != nil {
				h = tc.header(e)
			} else {
				h = e.signed("//Alice", body, bob)
			}
			a := e.send(method, path, h, body)
			if a.status != tc.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tc.status)
			}
			if msg := a.errorText(t); !strings.Contains(msg, tc.says) {
				t.Errorf("error %q does not say %q", msg, tc.says)
			}
			if n := e.refusals(tc.reason); n != 1 {
				t.Errorf("refusals{reason=%q} = %v, want 1", tc.reason, n)
			}
			if e.routed.Load() != 0 {
				t.Error("a refused request reached its route")
			}
		})
	}
}

// TestReceiverReplay: a request admitted once is refused when sent again
// (the same bytes, or the same uuid re-signed), until it has expired; the
// same uuid from another signer is a different pair.
func TestReceiverReplay(t *testing.T) {
	bob := key(t, "//Bob").SS58()
	e := newEnv(t, func(s *setup) { s.axon.Allow = append(s.axon.Allow, key(t, "//Charlie").SS58()) })
	e.nowMs.Store(1731000005123)
	body := []byte(`{"inputs":[]}`)
	s, err := epistula.Sign(key(t, "//Alice"), body, bob, timeMs(e.nowMs.Load()), "0b6f2c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d")
	if err != nil {
		t.Fatal(err)
	}
	if a := e.send("POST", "/v2/models/m/infer", s.Header, body); a.status != 200 {
		t.Fatalf("first: %d %s", a.status, a.body)
	}
	a := e.send("POST", "/v2/models/m/infer", s.Header, body)
	if a.status != 401 || !strings.Contains(a.errorText(t), "already used") {
		t.Fatalf("replay: %d %s", a.status, a.body)
	}
	e.nowMs.Add(1000)
	again, _ := epistula.Sign(key(t, "//Alice"), body, bob, timeMs(e.nowMs.Load()), "0b6f2c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d")
	if a := e.send("POST", "/v2/models/m/infer", again.Header, body); a.status != 401 {
		t.Fatalf("same uuid re-signed: %d %s", a.status, a.body)
	}
	other, _ := epistula.Sign(key(t, "//Charlie"), body, bob, timeMs(e.nowMs.Load()), "0b6f2c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d")
	if a := e.send("POST", "/v2/models/m/infer", other.Header, body); a.status != 200 {
		t.Fatalf("same uuid, other signer: %d %s", a.status, a.body)
	}
	if n := e.refusals(receiver.ReasonReplayed); n != 2 {
		t.Errorf("replayed = %v, want 2", n)
	}
	if e.routed.Load() != 2 {
		t.Errorf("routed %d, want 2", e.routed.Load())
	}
}

// TestReceiverReplayStoreFull: with room for two pairs, a third verified
// request within their time is refused 503 (not evicting them: the first
// stays refused as a replay), and once they expire (2 × window) new ones
// are admitted.
func TestReceiverReplayStoreFull(t *testing.T) {
	bob := key(t, "//Bob").SS58()
	e := newEnv(t, func(s *setup) { s.epistula.ReplayStoreSize = 2; s.epistula.Window = time.Second })
	e.nowMs.Store(1731000005123)
	body := []byte(`{}`)
	first := e.signed("//Alice", body, bob)
	for i, h := range []http.Header{first, e.signed("//Alice", body, bob)} {
		if a := e.send("POST", "/v2/models/m/infer", h, body); a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
	}
	a := e.send("POST", "/v2/models/m/infer", e.signed("//Alice", body, bob), body)
	if a.status != 503 || !strings.Contains(a.errorText(t), "--epistula-replay-store") || a.header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %s %v", a.status, a.body, a.header)
	}
	if a := e.send("POST", "/v2/models/m/infer", first, body); a.status != 401 {
		t.Fatalf("first replayed while full: %d %s", a.status, a.body)
	}
	e.nowMs.Add(2001)
	if a := e.send("POST", "/v2/models/m/infer", e.signed("//Alice", body, bob), body); a.status != 200 {
		t.Fatalf("after expiry: %d %s", a.status, a.body)
	}
	if n := e.refusals(receiver.ReasonReplayStoreFull); n != 1 {
		t.Errorf("replay_store_full = %v, want 1", n)
	}
}

// TestReceiverRateLimitAfterVerification: with 1 request/s (burst 1),
// forged requests claiming //Alice are refused 401 and leave her budget
// whole; her real request is admitted, her next one refused 429, and a
// replay of an admitted one is refused 401 without spending a token.
func TestReceiverRateLimitAfterVerification(t *testing.T) {
	alice, bob := key(t, "//Alice").SS58(), key(t, "//Bob").SS58()
	e := newEnv(t, func(s *setup) {
		s.axon.RateLimit, s.axon.Burst = 1, 1
		s.axon.Allow = append(s.axon.Allow, key(t, "//Charlie").SS58())
	})
	e.nowMs.Store(1731000005123)
	body := []byte(`{}`)
	for range 5 {
		forged := e.signed("//Charlie", body, bob)
		forged.Set("Epistula-Signed-By", alice)
		if a := e.send("POST", "/v2/models/m/infer", forged, body); a.status != 401 {
			t.Fatalf("forged: %d %s", a.status, a.body)
		}
	}
	real := e.signed("//Alice", body, bob)
	if a := e.send("POST", "/v2/models/m/infer", real, body); a.status != 200 {
		t.Fatalf("real request after forgeries: %d %s", a.status, a.body)
	}
	if a := e.send("POST", "/v2/models/m/infer", real, body); a.status != 401 {
		t.Fatalf("replay: %d %s", a.status, a.body)
	}
	a := e.send("POST", "/v2/models/m/infer", e.signed("//Alice", body, bob), body)
	if a.status != 429 || !strings.Contains(a.errorText(t), "--axon-rate-limit") {
		t.Fatalf("second real request within the second: %d %s", a.status, a.body)
	}
	e.nowMs.Add(1000)
	if a := e.send("POST", "/v2/models/m/infer", e.signed("//Alice", body, bob), body); a.status != 200 {
		t.Fatalf("a second later: %d %s", a.status, a.body)
	}
	for reason, want := range map[string]float64{receiver.ReasonBadSignature: 5, receiver.ReasonReplayed: 1, receiver.ReasonRateLimited: 1} {
		if n := e.refusals(reason); n != want {
			t.Errorf("refusals{reason=%q} = %v, want %v", reason, n, want)
		}
	}
}

// TestSplit: requests without Epistula-Version reach the axon (its own
// {"message"} answer), and secret-signature headers change nothing.
func TestSplit(t *testing.T) {
	bob := key(t, "//Bob").SS58()
	e := newEnv(t, nil)
	e.nowMs.Store(1731000005123)
	a := e.send("POST", "/Nope", http.Header{}, []byte(`{}`))
	if a.status != 404 || !bytes.Contains(a.body, []byte(`"message"`)) {
		t.Errorf("non-Epistula request: %d %s, want the axon's 404", a.status, a.body)
	}
	h := e.signed("//Alice", []byte(`{}`), bob)
	h.Set("Epistula-Secret-Signature-0", "0xnonsense")
	h.Set("Epistula-Secret-Signature-1", "")
	if a := e.send("POST", "/v1/chat/completions", h, []byte(`{}`)); a.status != 200 {
		t.Errorf("with junk secret signatures: %d %s", a.status, a.body)
	}
}

// TestStakePriority: a route behind the receiver gets the signer's stake
// priority (as the axon gives its callers); an allowed signer the metagraph
// does not know gets the priority of no stake.
func TestStakePriority(t *testing.T) {
	bob, alice, charlie := key(t, "//Bob").SS58(), key(t, "//Alice").SS58(), key(t, "//Charlie").SS58()
	e := newEnv(t, func(s *setup) {
		s.axon.Allow = []string{charlie}
		s.metagraph = &metagraph{loaded: true, callers: map[string]axon.Caller{alice: {UID: 1, Stake: 5000e9, ValidatorPermit: true}}}
	})
	e.nowMs.Store(1731000005123)
	body := []byte(`{"inputs":[]}`)
	for _, tc := range []struct {
		uri  string
		want float64
	}{
		{"//Alice", axon.StakePriority(5000e9)},
		{"//Charlie", axon.StakePriority(0)},
	} {
		if a := e.send("POST", "/v2/models/m/infer", e.signed(tc.uri, body, bob), body); a.status != 200 {
			t.Fatalf("%s: %d %s", tc.uri, a.status, a.body)
		}
		if got := e.last.Load().priority; got != tc.want {
			t.Errorf("%s: priority %v, want %v", tc.uri, got, tc.want)
		}
	}
	if receiver.StakePriority(context.Background()) != 0 {
		t.Error("StakePriority outside an admitted request is not 0")
	}
}
