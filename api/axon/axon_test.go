package axon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/dendrite"
	"github.com/taominer/taominer/chain/wallet"
)

// keys are dev keys: Alice and Eve are validators, Bob is our miner,
// Charlie is not registered, Dave has no validator permit, Ferdie has too
// little stake.
var keys = map[string]*wallet.Keypair{}

func key(t testing.TB, name string) *wallet.Keypair {
	t.Helper()
	if k, ok := keys[name]; ok {
		return k
	}
	k, err := wallet.FromURI("//" + name)
	if err != nil {
		t.Fatal(err)
	}
	keys[name] = k
	return k
}

// metagraph is a small in-memory metagraph.
type metagraph map[string]axon.Caller

func (m metagraph) Caller(hotkey string) (axon.Caller, bool) {
	c, ok := m[hotkey]
	return c, ok
}

func testMetagraph(t testing.TB) metagraph {
	return metagraph{
		key(t, "Alice").SS58():  {UID: 0, Stake: 5000e9, ValidatorPermit: true},
		key(t, "Eve").SS58():    {UID: 4, Stake: 2000e9, ValidatorPermit: true},
		key(t, "Dave").SS58():   {UID: 3, Stake: 9000e9, ValidatorPermit: false},
		key(t, "Ferdie").SS58(): {UID: 5, Stake: 10e9, ValidatorPermit: true},
	}
}

// echoInferer answers every request with its inputs as outputs and counts
// the calls; block makes it wait for the context instead.
type echoInferer struct {
	calls atomic.Int64
	block bool
	err   error
	prio  atomic.Value
}

func (e *echoInferer) Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error) {
	e.calls.Add(1)
	if req.Priority != 0 {
		e.prio.Store(req.Priority)
	}
	if e.block {
		<-ctx.Done()
		return nil, api.Errorf(http.StatusServiceUnavailable, "model '%s': deadline passed before the request ran", model)
	}
	if e.err != nil {
		return nil, e.err
	}
	resp := &api.InferResponse{ModelName: model, ModelVersion: "1"}
	for _, in := range req.Inputs {
		out := in
		out.Name = "out_" + in.Name
		resp.Outputs = append(resp.Outputs, api.ResponseOutput{Tensor: out, Binary: true})
	}
	return resp, nil
}

// hashedKind is a mapped-style synapse whose required_hash_fields are
// string fields; its forward counts calls and upper-cases "text".
func hashedKind(calls *atomic.Int64) *axon.Kind {
	return &axon.Kind{
		Name:       "Hashed",
		Required:   []axonproto.Field{{Name: "text", Empty: `""`}},
		HashFields: []string{"text", "label"},
		Forward: func(ctx context.Context, c *axon.Call) error {
			calls.Add(1)
			s, _ := c.Synapse.String("text")
			return c.Synapse.SetValue("result", strings.ToUpper(s))
		},
	}
}

type fixture struct {
	ax     *axon.Axon
	srv    *httptest.Server
	inf    *echoInferer
	hashed atomic.Int64
	reg    *prometheus.Registry
	miner  *wallet.Keypair
}

func newFixture(t testing.TB, tweak func(*axon.Options)) *fixture {
	t.Helper()
	f := &fixture{inf: &echoInferer{}, reg: prometheus.NewRegistry(), miner: key(t, "Bob")}
	opt := axon.Options{
		Hotkey:     f.miner.SS58(),
		Verifier:   wallet.SS58Verifier{},
		Metagraph:  testMetagraph(t),
		MinStake:   100e9,
		Deny:       []string{key(t, "Eve").SS58()},
		Inferer:    f.inf,
		Registerer: f.reg,
	}
	if tweak != nil {
		tweak(&opt)
	}
	ax, err := axon.New(opt, hashedKind(&f.hashed))
	if err != nil {
		t.Fatal(err)
	}
	f.ax = ax
	f.srv = httptest.NewServer(ax.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) target() dendrite.Target {
	return dendrite.Target{Addr: f.srv.Listener.Addr().String(), Hotkey: f.miner.SS58()}
}

func client(t testing.TB, name string) *dendrite.Client {
	t.Helper()
	c, err := dendrite.New(key(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inferRequest is an Infer synapse over one FP32 input.
func inferRequest(t testing.TB) dendrite.Request {
	t.Helper()
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("model", "identity")
	syn.Set("inputs", json.RawMessage(`[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4.5]]}]`))
	syn.Set("outputs", json.RawMessage(`null`))
	return dendrite.Request{Name: "Infer", Synapse: syn, Required: []axonproto.Field{{Name: "model", Empty: `""`}, {Name: "inputs", Empty: `[]`}}}
}

func TestGenuineInfer(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := client(t, "Alice").Call(context.Background(), f.target(), inferRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || resp.Message != "Success" {
		t.Fatalf("status %d %q, body %s", resp.Status, resp.Message, resp.Body)
	}
	outs, _ := resp.Synapse.Field("outputs")
	want := `[{"name":"out_x","datatype":"FP32","shape":[2,2],"data":[1,2,3,4.5]}]`
	if string(outs) != want {
		t.Errorf("outputs = %s, want %s", outs, want)
	}
	// The whole synapse is echoed, base fields first, terminals filled.
	var body map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "timeout", "total_size", "header_size", "dendrite", "axon", "computed_body_hash", "model", "inputs", "outputs"} {
		if _, ok := body[k]; !ok {
			t.Errorf("answer lacks field %q: %s", k, resp.Body)
		}
	}
	if !strings.HasPrefix(string(resp.Body), `{"name":"Infer","timeout":12.0,`) {
		t.Errorf("body starts %.40s", resp.Body)
	}
	if resp.Axon.StatusCode == nil || *resp.Axon.StatusCode != 200 || resp.Axon.ProcessTime == nil {
		t.Errorf("axon terminal %+v", resp.Axon)
	}
	if resp.Dendrite.Hotkey == nil || *resp.Dendrite.Hotkey != key(t, "Alice").SS58() {
		t.Errorf("dendrite terminal not echoed: %s", body["dendrite"])
	}
	if got := resp.Header.Get("computed_body_hash"); got != axonproto.EmptyBodyHash {
		t.Errorf("computed_body_hash header %v", got)
	}
	if got := resp.Header.Get("bt_header_input_obj_inputs"); got != "W10=" {
		t.Errorf("input_obj header %v", got)
	}
	if f.inf.calls.Load() != 1 || f.ax.Accepted() != 1 || f.ax.Refused("") != 0 {
		t.Errorf("calls %d accepted %v refused %v", f.inf.calls.Load(), f.ax.Accepted(), f.ax.Refused(""))
	}
	if p, _ := f.inf.prio.Load().(float64); p != axon.StakePriority(5000e9) {
		t.Errorf("priority %v, want %v", p, axon.StakePriority(5000e9))
	}
}

// TestRefusals: each forgery or bad caller gets the spec's status and
// message, is counted under its reason, and never reaches a model.
func TestRefusals(t *testing.T) {
	type sender func(t *testing.T, f *fixture) *dendrite.Response
	send := func(who string, mod func(*dendrite.Client, *dendrite.Target), edit func(*dendrite.Signed)) sender {
		return func(t *testing.T, f *fixture) *dendrite.Response {
			c, tg := client(t, who), f.target()
			if mod != nil {
				mod(c, &tg)
			}
			s, err := c.Sign(tg, inferRequest(t))
			if err != nil {
				t.Fatal(err)
			}
			if edit != nil {
				edit(s)
			}
			return c.Send(context.Background(), s)
		}
	}
	tests := []struct {
		name   string
		opts   func(*axon.Options)
		send   sender
		status int
		msg    string // prefix
		reason string
	}{
		{"replay", nil, func(t *testing.T, f *fixture) *dendrite.Response {
			c := client(t, "Alice")
			s, _ := c.Sign(f.target(), inferRequest(t))
			if r := c.Send(context.Background(), s); r.Status != 200 {
				t.Fatalf("first send: %d %s", r.Status, r.Message)
			}
			f.inf.calls.Store(0)
			return c.Send(context.Background(), s)
		}, 401, "Not Verified with error: Nonce is too old, a newer one was last processed", axon.ReasonReplayedNonce},
		{"wrong axon hotkey", nil, send("Alice", func(_ *dendrite.Client, tg *dendrite.Target) { tg.Hotkey = key(t, "Charlie").SS58() }, nil),
			401, "Not Verified with error: Signature mismatch with ", axon.ReasonBadSignature},
		{"empty signature", nil, send("Alice", nil, func(s *dendrite.Signed) { s.Header["bt_header_dendrite_signature"] = []string{""} }),
			401, "Not Verified with error: Missing signature", axon.ReasonMissingSignature},
		{"no signature header", nil, send("Alice", nil, func(s *dendrite.Signed) { delete(s.Header, "bt_header_dendrite_signature") }),
			401, "Not Verified with error: Missing signature", axon.ReasonMissingSignature},
		{"signature without 0x", nil, send("Alice", nil, func(s *dendrite.Signed) {
			s.Header["bt_header_dendrite_signature"] = []string{s.Header["bt_header_dendrite_signature"][0][2:]}
		}), 401, "Not Verified with error: Invalid signature format", axon.ReasonBadSignature},
		{"forged by another key", nil, func(t *testing.T, f *fixture) *dendrite.Response {
			c := client(t, "Charlie")
			s, _ := c.Sign(f.target(), inferRequest(t))
			s.Header["bt_header_dendrite_hotkey"] = []string{key(t, "Alice").SS58()}
			return c.Send(context.Background(), s)
		}, 401, "Not Verified with error: Signature mismatch with ", axon.ReasonBadSignature},
		{"unregistered hotkey", nil, send("Charlie", nil, nil), 403, "Forbidden. Key is blacklisted: Unrecognized hotkey.", axon.ReasonUnregistered},
		{"no validator permit", nil, send("Dave", nil, nil), 403, "Forbidden. Key is blacklisted: Non-validator hotkey.", axon.ReasonNoPermit},
		{"stake below minimum", nil, send("Ferdie", nil, nil), 403, "Forbidden. Key is blacklisted: Stake below minimum (10 < 100 alpha).", axon.ReasonLowStake},
		{"denied hotkey", nil, send("Eve", nil, nil), 403, "Forbidden. Key is blacklisted: Denied hotkey.", axon.ReasonDenied},
		{"no chain, not allowed", func(o *axon.Options) { o.Metagraph = nil }, send("Alice", nil, nil),
			403, "Forbidden. Key is blacklisted: Unrecognized hotkey.", axon.ReasonNotAllowed},
		{"no hotkey", nil, send("Alice", nil, func(s *dendrite.Signed) { delete(s.Header, "bt_header_dendrite_hotkey") }),
			403, "Forbidden. Key is blacklisted: Received a request without a dendrite or hotkey.", axon.ReasonMissingHotkey},
		{"stale first nonce", nil, send("Alice", func(c *dendrite.Client, _ *dendrite.Target) {
			c.Now = func() time.Time { return time.Now().Add(-20 * time.Second) }
		}, nil), 401, "Not Verified with error: Nonce is too old: acceptable delta is 16.00 seconds but request was 2", axon.ReasonStaleNonce}, // 20.xx s, more under load,
		{"missing nonce", nil, send("Alice", nil, func(s *dendrite.Signed) { delete(s.Header, "bt_header_dendrite_nonce") }),
			401, "Not Verified with error: Missing Nonce", axon.ReasonMissingNonce},
		{"nonce not a number", nil, send("Alice", nil, func(s *dendrite.Signed) { s.Header["bt_header_dendrite_nonce"] = []string{"soon"} }),
			500, "Internal Server Error #", axon.ReasonBadHeaders},
		{"unknown synapse", nil, send("Alice", nil, func(s *dendrite.Signed) { s.URL = strings.Replace(s.URL, "/Infer", "/Nope", 1) }),
			404, "Synapse name 'Nope' not found. Available synapses ['Synapse', 'Infer', 'Hashed']", axon.ReasonUnknownSynapse},
		{"tampered body hash header", nil, send("Alice", nil, func(s *dendrite.Signed) {
			s.Header["computed_body_hash"] = []string{strings.Repeat("0", 64)}
		}), 401, "Not Verified with error: Signature mismatch", axon.ReasonBadSignature},
		{"rate limited", func(o *axon.Options) { o.RateLimit, o.Burst = 0.001, 1 }, func(t *testing.T, f *fixture) *dendrite.Response {
			c := client(t, "Alice")
			if r, _ := c.Call(context.Background(), f.target(), inferRequest(t)); r.Status != 200 {
				t.Fatalf("first call: %d %s", r.Status, r.Message)
			}
			f.inf.calls.Store(0)
			r, _ := c.Call(context.Background(), f.target(), inferRequest(t))
			return r
		}, 429, "Too Many Requests", axon.ReasonRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			r := tt.send(t, f)
			if r.Status != tt.status || !strings.HasPrefix(r.Message, tt.msg) {
				t.Errorf("got %d %q, want %d %q…", r.Status, r.Message, tt.status, tt.msg)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := r.Header.Get("bt_header_axon_status_code"); got != fmt.Sprint(tt.status) {
				t.Errorf("bt_header_axon_status_code %v", got)
			}
			if n := f.inf.calls.Load(); n != 0 {
				t.Errorf("the model ran %d times", n)
			}
			if got := f.ax.Refused(tt.reason); got != 1 {
				t.Errorf("refused{reason=%s} = %v, want 1", tt.reason, got)
			}
		})
	}
}

// TestTamperedBody: on a synapse whose required_hash_fields are string
// fields, changing a hashed field after signing is refused (500, as the
// SDK's verify_body_integrity), an unhashed field is not checked.
func TestTamperedBody(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t, "Alice")
	req := func() dendrite.Request {
		syn := axonproto.NewSynapse()
		_ = syn.SetValue("text", "hello")
		_ = syn.SetValue("label", "greeting")
		_ = syn.SetValue("result", nil)
		return dendrite.Request{Name: "Hashed", Synapse: syn, Required: []axonproto.Field{{Name: "text", Empty: `""`}}, HashFields: []string{"text", "label"}}
	}
	r, _ := c.Call(context.Background(), f.target(), req())
	if r.Status != 200 {
		t.Fatalf("genuine: %d %s", r.Status, r.Message)
	}
	if got, _ := r.Synapse.String("result"); got != "HELLO" {
		t.Errorf("result %q", got)
	}
	for _, tamper := range []struct{ from, to string }{{`"hello"`, `"jello"`}, {`"greeting"`, `"greetinG"`}} {
		s, _ := c.Sign(f.target(), req())
		s.Body = []byte(strings.Replace(string(s.Body), tamper.from, tamper.to, 1))
		r := c.Send(context.Background(), s)
		if r.Status != 500 || !strings.HasPrefix(r.Message, "Internal Server Error #") {
			t.Errorf("tampered %s: %d %q", tamper.to, r.Status, r.Message)
		}
	}
	if f.hashed.Load() != 1 || f.ax.Refused(axon.ReasonBodyHash) != 2 {
		t.Errorf("forward ran %d times, body_hash refusals %v", f.hashed.Load(), f.ax.Refused(axon.ReasonBodyHash))
	}
}

// TestMinimalRequest: no bt_header_input_obj_* headers, no dendrite or axon
// objects in the body.
func TestMinimalRequest(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t, "Alice")
	s, _ := c.Sign(f.target(), inferRequest(t))
	for k := range s.Header {
		if strings.HasPrefix(k, axonproto.PrefixInputObj) {
			delete(s.Header, k)
		}
	}
	s.Body = []byte(`{"model":"identity","inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[7]}]}`)
	r := c.Send(context.Background(), s)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Message)
	}
	var body struct {
		Name     string
		Dendrite map[string]any
		Axon     map[string]any
		Outputs  []map[string]any
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Name != "Infer" || body.Dendrite == nil || body.Axon["status_code"] != float64(200) || len(body.Outputs) != 1 {
		t.Errorf("answer %s", r.Body)
	}
}

func TestInferErrors(t *testing.T) {
	tests := []struct {
		name   string
		inf    *echoInferer
		body   string
		status int
		msg    string
	}{
		{"unknown model", &echoInferer{err: api.NotFound("unknown model: 'identity'")}, "", 404, "unknown model: 'identity'"},
		{"queue full", &echoInferer{err: api.Errorf(429, "model 'identity': queue full, retry later")}, "", 429, "model 'identity': queue full"},
		{"backend failure", &echoInferer{err: fmt.Errorf("onnxruntime exploded")}, "", 500, "Internal Server Error #"},
		// The axon answers at 90 % of the timeout; the client gives up at
		// 100 %: 2 s leaves a loaded machine 200 ms to deliver the 408.
		{"deadline", &echoInferer{block: true}, "", 408, "Response timeout after: 2.0s"},
		{"bad tensor", &echoInferer{}, `[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]`, 400, "input \"x\": shape [3] needs 3 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *axon.Options) { o.Inferer = tt.inf })
			req := inferRequest(t)
			req.Timeout = 0.3
			if tt.name == "deadline" {
				req.Timeout = 2
			}
			if tt.body != "" {
				req.Synapse.Set("inputs", json.RawMessage(tt.body))
			}
			r, _ := client(t, "Alice").Call(context.Background(), f.target(), req)
			if r.Status != tt.status || !strings.HasPrefix(r.Message, tt.msg) {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Message, tt.status, tt.msg)
			}
			// The synapse is echoed even on errors from the model.
			var body map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &body); err != nil || body["model"] == nil || body["axon"] == nil {
				t.Errorf("synapse not echoed: %s", r.Body)
			}
		})
	}
}

// TestConcurrentReplay: the same signed request sent at once many times is
// answered once; check-and-store is atomic.
func TestConcurrentReplay(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t, "Alice")
	s, _ := c.Sign(f.target(), inferRequest(t))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if c.Send(context.Background(), s).Status == 200 {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || f.inf.calls.Load() != 1 {
		t.Errorf("%d answered, model ran %d times; want 1", ok.Load(), f.inf.calls.Load())
	}
}

// TestRawHeaders reads the answer's bytes off a TCP connection: the
// bt_header_* names are lower case on the wire, and so are name, timeout,
// the sizes and computed_body_hash; unknown routes are JSON too.
func TestRawHeaders(t *testing.T) {
	f := newFixture(t, nil)
	c := client(t, "Alice")
	for _, path := range []string{"/Infer", "/Nope", "/Synapse"} {
		s, _ := c.Sign(f.target(), inferRequest(t))
		conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n", path, len(s.Body))
		for k, v := range s.Header {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v[0])
		}
		b.WriteString("\r\n")
		b.Write(s.Body)
		if _, err := io.WriteString(conn, b.String()); err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(bufio.NewReader(conn))
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		names := map[string]bool{}
		for _, l := range lines[1:] {
			k, _, _ := strings.Cut(l, ":")
			names[k] = true
			if strings.HasPrefix(strings.ToLower(k), "bt_header_") && k != strings.ToLower(k) {
				t.Errorf("%s: header %q is not lower case", path, k)
			}
		}
		for _, want := range []string{"bt_header_axon_status_code", "bt_header_axon_status_message", "bt_header_axon_process_time",
			"bt_header_dendrite_nonce", "bt_header_dendrite_hotkey", "name", "timeout", "header_size", "total_size", "computed_body_hash", "Content-Type"} {
			if !names[want] {
				t.Errorf("%s: no %q header on the wire:\n%s", path, want, head)
			}
		}
		if !strings.Contains(head, "Content-Type: application/json") {
			t.Errorf("%s: not JSON:\n%s", path, head)
		}
	}
}

func TestNonceStoreIsBounded(t *testing.T) {
	f := newFixture(t, func(o *axon.Options) { o.NonceStoreSize = 2 })
	for range 3 { // three clients = three uuids
		if r, _ := client(t, "Alice").Call(context.Background(), f.target(), inferRequest(t)); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Message)
		}
	}
	if n := axon.NonceKeys(f.ax); n != 2 {
		t.Errorf("nonce store holds %d keys, want 2", n)
	}
}

func TestAllowListWithoutChain(t *testing.T) {
	f := newFixture(t, func(o *axon.Options) { o.Metagraph, o.Allow = nil, []string{key(t, "Charlie").SS58()} })
	r, _ := client(t, "Charlie").Call(context.Background(), f.target(), inferRequest(t))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Message)
	}
	if p, _ := f.inf.prio.Load().(float64); p != 1 {
		t.Errorf("priority of a caller without stake = %v, want 1", p)
	}
}

func TestForwardTimeout(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want time.Duration
	}{{12, 11 * time.Second}, {1, 900 * time.Millisecond}, {0, 11 * time.Second}, {-3, 11 * time.Second}, {60, 59 * time.Second}, {1e9, 5*time.Minute - time.Second}} {
		if got := axon.ForwardTimeout(tt.in); got != tt.want {
			t.Errorf("ForwardTimeout(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	prev := 0.0
	for _, stake := range []uint64{0, 1, 1e9, 1000e9, 1e15, 1e18} {
		p := axon.StakePriority(stake)
		if p < prev || (stake == 0 && p != 1) {
			t.Errorf("StakePriority(%d) = %v after %v", stake, p, prev)
		}
		prev = p
	}
}

// TestFloodOfForgeries: 10 000 forged requests over reused connections,
// concurrently: all refused, and no model ran. A quarter of each kind: a
// real validator's hotkey with a signature by another key (costs an
// sr25519 verification), an unregistered hotkey, a validator's hotkey
// without a signature, and one with a stale nonce.
func TestFloodOfForgeries(t *testing.T) {
	// The axon's clock stands still: on a loaded machine the flood can outlast the nonces'
	// freshness window (4 s + the synapse timeout), which would turn the fresh forgeries into
	// stale ones.
	t0 := time.Now()
	f := newFixture(t, func(o *axon.Options) { o.Now = func() time.Time { return t0 } })
	const n = 10_000
	forger := client(t, "Charlie")
	alice := key(t, "Alice").SS58()
	var signed []*dendrite.Signed
	for i := range 64 {
		if i%4 == 3 {
			forger.Now = func() time.Time { return time.Now().Add(-time.Minute) }
		}
		s, _ := forger.Sign(f.target(), inferRequest(t))
		forger.Now = nil
		switch i % 4 {
		case 0, 3:
			s.Header["bt_header_dendrite_hotkey"] = []string{alice}
		case 2:
			s.Header["bt_header_dendrite_hotkey"] = []string{alice}
			delete(s.Header, "bt_header_dendrite_signature")
		}
		signed = append(signed, s)
	}
	forger.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var next, wrong atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= n; i = next.Add(1) {
				if r := forger.Send(context.Background(), signed[i%int64(len(signed))]); r.Status != 401 && r.Status != 403 {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := f.ax.Refused(""); got != n || wrong.Load() != 0 {
		t.Errorf("refused %v (%d neither 401 nor 403), want %d", got, wrong.Load(), n)
	}
	for _, r := range []string{axon.ReasonBadSignature, axon.ReasonUnregistered, axon.ReasonMissingSignature, axon.ReasonStaleNonce} {
		if got := f.ax.Refused(r); got != n/4 {
			t.Errorf("refused{reason=%s} = %v, want %d", r, got, n/4)
		}
	}
	if f.inf.calls.Load() != 0 || f.ax.Accepted() != 0 {
		t.Errorf("model ran %d times", f.inf.calls.Load())
	}
}

// namedKinds is a KindSource answering nothing, listing names.
type namedKinds []string

func (namedKinds) Kind(string) (*axon.Kind, bool) { return nil, false }
func (n namedKinds) KindNames() []string          { return n }

// TestSeriesFromStart: the accepted and answered series of every synapse
// known at start (built in, registered, from the KindSource) exist at 0
// before any call, so rate() sees the first one.
func TestSeriesFromStart(t *testing.T) {
	f := newFixture(t, func(o *axon.Options) { o.Kinds = namedKinds{"Mapped"} })
	want := map[string]bool{}
	for _, n := range []string{"Synapse", "Infer", "Hashed", "Mapped"} {
		want[`taominer_axon_accepted_total{synapse="`+n+`"} 0`] = true
		want[`taominer_axon_answered_total{code="200",synapse="`+n+`"} 0`] = true
	}
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			delete(want, fmt.Sprintf("%s{%s} %v", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	if len(want) > 0 {
		t.Errorf("series missing at start: %v", want)
	}
}
