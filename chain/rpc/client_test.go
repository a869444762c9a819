package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/taominer/taominer/chain/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeNode answers: "echo" (returns its params), "slow" (waits for the release channel),
// "fail" (JSON-RPC error), "drop" (closes the connection without answering), and
// "subscribe" (returns id "s1", then sends n notifications, n = first param).
type fakeNode struct {
	srv     *httptest.Server
	conns   atomic.Int32
	release chan struct{}
	down    atomic.Bool // refuse handshakes with 503
	mu      sync.Mutex
	live    []*websocket.Conn
}

// dropAll closes every open websocket connection (httptest does not track hijacked ones).
func (f *fakeNode) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ws := range f.live {
		ws.CloseNow()
	}
	f.live = nil
}

func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	f := &fakeNode{release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.release)
		f.dropAll()
		f.srv.Close()
	})
	return f
}

func (f *fakeNode) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") }

func (f *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	f.conns.Add(1)
	f.mu.Lock()
	f.live = append(f.live, ws)
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ws.CloseNow()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			ID     json.RawMessage   `json:"id"`
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(data, &req) != nil {
			continue
		}
		reply := func(body string) {
			ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,%s}`, req.ID, body)))
		}
		switch req.Method {
		case "echo":
			p, _ := json.Marshal(req.Params)
			reply(`"result":` + string(p))
		case "slow":
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-f.release:
				case <-ctx.Done():
					return
				}
				reply(`"result":"late"`)
			}()
		case "fail":
			reply(`"error":{"code":1010,"message":"Invalid Transaction","data":"Custom error: 12"}`)
		case "drop":
			ws.CloseNow()
			return
		case "subscribe":
			var n int
			json.Unmarshal(req.Params[0], &n)
			reply(`"result":"s1"`)
			for i := range n {
				ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"note","params":{"subscription":"s1","result":%d}}`, i)))
			}
		case "unsubscribe":
			reply(`"result":true`)
		default:
			reply(`"error":{"code":-32601,"message":"Method not found"}`)
		}
	}
}

func dial(t *testing.T, url string) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(context.Background(), url, rpc.Options{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConcurrentCalls(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []int
			if err := c.Call(context.Background(), "echo", &got, i, i*2); err != nil {
				errs <- err
				return
			}
			if len(got) != 2 || got[0] != i || got[1] != 2*i {
				errs <- fmt.Errorf("call %d got %v", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNodeError(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	err := c.Call(context.Background(), "fail", nil)
	var e *rpc.Error
	if !errors.As(err, &e) || e.Code != 1010 || e.DataString() != "Custom error: 12" {
		t.Fatalf("error = %v", err)
	}
	if code, ok := rpc.Code(err); !ok || code != 1010 {
		t.Fatalf("Code = %d, %v", code, ok)
	}
	err = c.Call(context.Background(), "nope", nil)
	if !rpc.IsRuntimeAPIUnavailable(err) {
		t.Fatalf("method not found not recognized: %v", err)
	}
}

func TestTimeoutThenReuse(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Call(ctx, "slow", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow call error = %v, want deadline exceeded", err)
	}
	var got []string
	if err := c.Call(context.Background(), "echo", &got, "after"); err != nil || len(got) != 1 {
		t.Fatalf("call after timeout = %v, %v", got, err)
	}
}

// TestDropMidCall: the node closes the connection while a call is in flight. That call and a
// concurrent slow call fail with ErrConnectionLost; the next call reconnects and succeeds.
func TestDropMidCall(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	slowErr := make(chan error, 1)
	go func() { slowErr <- c.Call(context.Background(), "slow", nil) }()
	time.Sleep(20 * time.Millisecond) // let the slow call reach the node
	err := c.Call(context.Background(), "drop", nil)
	if !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("dropped call error = %v, want ErrConnectionLost", err)
	}
	if err := <-slowErr; !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("in-flight call error = %v, want ErrConnectionLost", err)
	}
	var got []string
	if err := c.Call(context.Background(), "echo", &got, "again"); err != nil || len(got) != 1 || got[0] != "again" {
		t.Fatalf("call after reconnect = %v, %v", got, err)
	}
	if n := f.conns.Load(); n != 2 {
		t.Fatalf("node saw %d connections, want 2", n)
	}
}

// TestReconnectBackoff: with the node down, calls fail within their deadline; when it is back,
// a call succeeds.
func TestReconnectBackoff(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	// Down first: a client reconnecting between the drop and the switch
	// would find the node up and the call below would succeed.
	f.down.Store(true)
	f.dropAll()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	err := c.Call(ctx, "echo", nil, 1)
	cancel()
	if err == nil {
		t.Fatal("call succeeded while the node was down")
	}
	f.down.Store(false)
	var got []int
	if err := c.Call(context.Background(), "echo", &got, 7); err != nil || len(got) != 1 || got[0] != 7 {
		t.Fatalf("call after node is back = %v, %v", got, err)
	}
}

func TestSubscription(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	ctx := context.Background()
	s, err := c.Subscribe(ctx, "subscribe", "unsubscribe", 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "s1" {
		t.Fatalf("id = %q", s.ID())
	}
	for i := range 3 {
		raw, err := s.Next(ctx)
		if err != nil || string(raw) != fmt.Sprint(i) {
			t.Fatalf("note %d = %s, %v", i, raw, err)
		}
	}
	if err := s.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx); !errors.Is(err, rpc.ErrUnsubscribed) {
		t.Fatalf("Next after unsubscribe = %v", err)
	}

	// A subscription ends with ErrConnectionLost when the connection drops.
	s, err = c.Subscribe(ctx, "subscribe", "unsubscribe", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.dropAll()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Next(tctx); !errors.Is(err, rpc.ErrConnectionLost) {
		t.Fatalf("Next after drop = %v, want ErrConnectionLost", err)
	}
}

func TestClose(t *testing.T) {
	f := newFakeNode(t)
	c := dial(t, f.url())
	c.Close()
	if err := c.Call(context.Background(), "echo", nil); !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("call after Close = %v", err)
	}
}

func TestDialFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := rpc.Dial(ctx, "ws://127.0.0.1:1", rpc.Options{ReconnectMin: 20 * time.Millisecond}); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"finney", "wss://entrypoint-finney.opentensor.ai:443", true},
		{"test", "wss://test.finney.opentensor.ai:443", true},
		{"local", "ws://127.0.0.1:9944", true},
		{"ws://10.0.0.5:9944", "ws://10.0.0.5:9944", true},
		{"wss://node.example:443/ws", "wss://node.example:443/ws", true},
		{"mainnet", "", false},
		{"http://127.0.0.1:9944", "", false},
		{"ws://", "", false},
	}
	for _, tt := range tests {
		got, err := rpc.Endpoint(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, rpc.ErrUnknownNetwork) {
			t.Errorf("Endpoint(%q) error = %v, want ErrUnknownNetwork", tt.in, err)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	discarded := &rpc.Error{Code: 4003, Message: "Client error: Api called for an unknown Block: State already discarded for 0x6c0d"}
	missing := &rpc.Error{Code: 4003, Message: "Client error: Execution failed: Other: Exported method NeuronInfoRuntimeApi_get_neurons_lite is not found"}
	wrapped := fmt.Errorf("state_call: %w", missing)
	if !rpc.IsStateDiscarded(discarded) || rpc.IsStateDiscarded(missing) {
		t.Error("IsStateDiscarded misclassifies")
	}
	if !rpc.IsRuntimeAPIUnavailable(wrapped) || rpc.IsRuntimeAPIUnavailable(discarded) {
		t.Error("IsRuntimeAPIUnavailable misclassifies")
	}
	if rpc.IsRuntimeAPIUnavailable(errors.New("other")) {
		t.Error("plain error classified as runtime API unavailable")
	}
}
