package dendrite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/chain/wallet"
)

func newKey(t *testing.T) *wallet.Keypair {
	t.Helper()
	kp, err := wallet.FromURI("//Alice")
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := New(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The wallet's keypair is what package main signs with.
var _ Signer = (*wallet.Keypair)(nil)

func TestNoSecret(t *testing.T) {
	pub, err := wallet.FromSS58(bob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(pub); !errors.Is(err, ErrNoSecret) {
		t.Errorf("New(public key) = %v, want ErrNoSecret", err)
	}
}

const bob = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"

// TestSignedRequest checks the request against spec §1.2–1.5: header set
// and values, body, and a signature that verifies over the 5-part message.
func TestSignedRequest(t *testing.T) {
	c := newClient(t)
	syn := axonproto.NewSynapse()
	_ = syn.SetValue("a", 1)
	_ = syn.SetValue("b", 2)
	syn.Set("d", json.RawMessage(`["foobar"]`))
	s, err := c.Sign(Target{Addr: "203.0.113.7:8091", Hotkey: bob}, Request{
		Name: "Dummy", Synapse: syn, HashFields: []string{"a", "b", "d"},
		Required: []axonproto.Field{{Name: "a", Empty: "0"}, {Name: "d", Empty: "[]"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	alice := "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
	want := map[string]string{
		"content-type": "application/json", "name": "Dummy", "timeout": "12.0",
		"bt_header_axon_ip": "203.0.113.7", "bt_header_axon_port": "8091", "bt_header_axon_hotkey": bob,
		"bt_header_dendrite_version": "10002000", "bt_header_dendrite_uuid": c.UUID(), "bt_header_dendrite_hotkey": alice,
		"bt_header_input_obj_a": "MA==", "bt_header_input_obj_d": "W10=", "header_size": "0",
		"computed_body_hash": "ae06397d08f30f75c91395c59f05c62ac3b62b88250eb78b109213258e6ced0c", // spec vector 13
	}
	for k, v := range want {
		if got := s.Header[k]; len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %v, want %q", k, got, v)
		}
	}
	//lint:ignore SA1008 the SDK's header names are lower case on the wire; Signed keeps them as sent
	sig := s.Header["bt_header_dendrite_signature"][0]
	if !regexp.MustCompile(`^0x[0-9a-f]{128}$`).MatchString(sig) {
		t.Errorf("signature %q", sig)
	}
	//lint:ignore SA1008 as above
	nonce := s.Header["bt_header_dendrite_nonce"][0]
	if d := time.Since(time.Unix(0, s.Nonce)); d < 0 || d > time.Minute || nonce == "" {
		t.Errorf("nonce %s is not now in nanoseconds", nonce)
	}
	msg := nonce + "." + alice + "." + bob + "." + c.UUID() + "." + want["computed_body_hash"]
	if s.Message != msg {
		t.Errorf("message %q, want %q", s.Message, msg)
	}
	if raw, err := axonproto.ParseSignature(sig); err != nil || !newKey(t).Verify([]byte(msg), raw) {
		t.Errorf("signature does not verify: %v", err)
	}
	body := string(s.Body)
	if !strings.HasPrefix(body, `{"name":"Dummy","timeout":12.0,"total_size":0,"header_size":0,"dendrite":{"status_code":null,`) ||
		!strings.HasSuffix(body, `"computed_body_hash":"","a":1,"b":2,"d":["foobar"]}`) {
		t.Errorf("body %s", body)
	}
}

// TestRawRequestHeaders reads the request off the wire: the names stay
// lower case, as the Python axon's from_headers needs.
func TestRawRequestHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		var head strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
			head.WriteString(line)
		}
		got <- head.String()
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
	}()
	c := newClient(t)
	_, _ = c.Call(context.Background(), Target{Addr: ln.Addr().String(), Hotkey: bob}, Request{Name: "Synapse"})
	head := <-got
	for _, name := range []string{"bt_header_dendrite_signature", "bt_header_dendrite_nonce", "bt_header_axon_hotkey", "computed_body_hash", "timeout", "name"} {
		if !strings.Contains(head, "\r\n"+name+": ") {
			t.Errorf("no lower-case %q on the wire:\n%s", name, head)
		}
	}
}

func TestResponses(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		msg     string
	}{
		{"success", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json"}
			w.Header()["bt_header_axon_status_code"] = []string{"200"}
			w.Header()["bt_header_axon_status_message"] = []string{"Success"}
			_, _ = w.Write([]byte(`{"name":"Synapse","axon":{"status_code":200,"status_message":"Success","hotkey":"x"},"out":1}`))
		}, 200, "Success"},
		{"refusal", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json"}
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"message":"Forbidden. Key is blacklisted: Unrecognized hotkey."}`))
		}, 403, "Forbidden. Key is blacklisted: Unrecognized hotkey."},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 422, "Failed to parse response"},
		{"bad header value", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json"}
			w.Header()["bt_header_axon_status_code"] = []string{"two hundred"}
			_, _ = w.Write([]byte(`{}`))
		}, 422, "Failed to parse response"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			case <-time.After(time.Second):
			}
		}, 408, "Request timeout after 0.2 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			defer srv.CloseClientConnections()
			c := newClient(t)
			r, err := c.Call(context.Background(), Target{Addr: srv.Listener.Addr().String(), Hotkey: bob}, Request{Name: "Synapse", Timeout: 0.2})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || !strings.HasPrefix(r.Message, tt.msg) {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Message, tt.status, tt.msg)
			}
		})
	}
	// Nothing listening: 503.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	r, _ := newClient(t).Call(context.Background(), Target{Addr: addr, Hotkey: bob}, Request{Name: "Synapse"})
	if r.Status != 503 || !strings.HasPrefix(r.Message, "Service unavailable at "+addr+"/Synapse") {
		t.Errorf("unreachable: %d %q", r.Status, r.Message)
	}
}

func TestMerge(t *testing.T) {
	code, msg, port, hotkey, other := int64(200), "Success", int64(8091), "x", "y"
	dst := axonproto.TerminalInfo{StatusCode: &code, Hotkey: &hotkey}
	merge(&dst, axonproto.TerminalInfo{StatusMessage: &msg, Port: &port, Hotkey: &other})
	if dst.StatusCode != &code || dst.StatusMessage != &msg || dst.Port != &port || dst.Hotkey != &other || dst.IP != nil || dst.Nonce != nil {
		t.Errorf("merge = %+v", dst)
	}
}
