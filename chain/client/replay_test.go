package client_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/taominer/taominer/chain/internal/chaintest"
)

// handler answers one request: body is `"result":…` or `"error":{…}`; notes are notification
// frames sent after the reply. hang leaves the request unanswered; drop closes the connection.
type handler func(params []json.RawMessage) (body string, notes []string, hang, drop bool)

// replayNode is an in-process websocket node that answers from ws_recorded.json (matched by
// method and normalized params), serves the spec-343 metadata files, and lets tests override
// methods with handlers.
type replayNode struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	rec   map[string][]json.RawMessage // key → responses, returned in rotation
	next  map[string]int
	hand  map[string]handler // by method
	calls map[string]int     // by method
	conns atomic.Int32
	live  []*websocket.Conn
}

// normalize maps aliases to one method name and makes params comparable: hex strings lose their
// 0x and case, trailing nulls are dropped.
func normalize(method string, params []json.RawMessage) string {
	switch method {
	case "state_getStorageAt":
		method = "state_getStorage"
	case "state_callAt":
		method = "state_call"
	case "chain_getFinalisedHead":
		method = "chain_getFinalizedHead"
	}
	for len(params) > 0 && string(params[len(params)-1]) == "null" {
		params = params[:len(params)-1]
	}
	parts := make([]string, len(params))
	for i, p := range params {
		var s string
		if json.Unmarshal(p, &s) == nil {
			h := strings.TrimPrefix(s, "0x")
			if _, err := hex.DecodeString(h); err == nil {
				h = strings.ToLower(h)
			}
			parts[i] = h
		} else {
			parts[i] = string(p)
		}
	}
	return method + "(" + strings.Join(parts, ",") + ")"
}

type recording struct {
	Seeds map[string]map[string][]struct {
		Params    []json.RawMessage `json:"params"`
		Response  json.RawMessage   `json:"response"`
		Responses []json.RawMessage `json:"responses_cycle"`
	} `json:"seeds"`
}

var (
	recOnce sync.Once
	recData recording
	recErr  error
)

// loadRecording parses ws_recorded.json once per test binary (it is 2 MB).
func loadRecording(t *testing.T) *recording {
	t.Helper()
	recOnce.Do(func() { recErr = json.Unmarshal(chaintest.Read(t, "ws_recorded.json"), &recData) })
	if recErr != nil {
		t.Fatal(recErr)
	}
	return &recData
}

func newReplay(t *testing.T, seeds ...string) *replayNode {
	t.Helper()
	rec := loadRecording(t)
	n := &replayNode{t: t, rec: map[string][]json.RawMessage{}, next: map[string]int{}, hand: map[string]handler{}, calls: map[string]int{}}
	for _, seed := range seeds {
		methods, ok := rec.Seeds[seed]
		if !ok {
			t.Fatalf("no seed %s", seed)
		}
		for method, entries := range methods {
			for _, e := range entries {
				k := normalize(method, e.Params)
				if _, dup := n.rec[k]; dup {
					continue // first seed wins
				}
				if len(e.Responses) > 0 {
					n.rec[k] = e.Responses
				} else {
					n.rec[k] = []json.RawMessage{e.Response}
				}
			}
		}
	}
	// Metadata (the recorder strips these replies; the fixture keeps them as files).
	v14 := strings.TrimSpace(string(chaintest.Read(t, "metadata_v14_spec343.hex")))
	v15 := strings.TrimSpace(string(chaintest.Read(t, "metadata_at_version15_spec343.hex")))
	n.set(`state_getMetadata()`, `{"result":"`+v14+`"}`)
	n.set(`state_call(Metadata_metadata_at_version,0f000000)`, `{"result":"`+v15+`"}`)
	n.set(`state_call(Metadata_metadata_at_version,10000000)`, `{"result":"0x00"}`)
	n.set(`chain_getBlockHash(0)`, `{"result":"0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03"}`)
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(func() {
		n.dropAll()
		n.srv.Close()
	})
	return n
}

func (n *replayNode) url() string { return "ws" + strings.TrimPrefix(n.srv.URL, "http") }

// set records a canned response (a JSON object with result or error) for a normalized key.
func (n *replayNode) set(key, resp string) {
	n.mu.Lock()
	n.rec[key] = []json.RawMessage{json.RawMessage(resp)}
	n.mu.Unlock()
}

// copyTo makes key `to` answer what `from` answers.
func (n *replayNode) copyTo(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.rec[from]
	if !ok {
		n.t.Fatalf("no recorded %s", from)
	}
	n.rec[to] = r
}

func (n *replayNode) handle(method string, h handler) {
	n.mu.Lock()
	n.hand[method] = h
	n.mu.Unlock()
}

func (n *replayNode) count(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[method]
}

func (n *replayNode) dropAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ws := range n.live {
		ws.CloseNow()
	}
	n.live = nil
}

func (n *replayNode) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(8 << 20)
	n.conns.Add(1)
	n.mu.Lock()
	n.live = append(n.live, ws)
	n.mu.Unlock()
	defer ws.CloseNow()
	ctx := r.Context()
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
		if err := json.Unmarshal(data, &req); err != nil {
			n.t.Errorf("replay: bad request %s", data)
			return
		}
		body, notes, hang, drop := n.answer(req.Method, req.Params)
		if drop {
			return
		}
		if hang {
			continue
		}
		ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,%s}`, req.ID, body)))
		for _, note := range notes {
			ws.Write(ctx, websocket.MessageText, []byte(note))
		}
	}
}

func (n *replayNode) answer(method string, params []json.RawMessage) (string, []string, bool, bool) {
	n.mu.Lock()
	n.calls[method]++
	h := n.hand[method]
	k := normalize(method, params)
	resps, ok := n.rec[k]
	var resp json.RawMessage
	if ok {
		resp = resps[n.next[k]%len(resps)]
		n.next[k]++
	}
	n.mu.Unlock()
	if h != nil {
		return h(params)
	}
	if !ok {
		n.t.Logf("replay: no recorded answer for %s", k)
		return `"error":{"code":-32601,"message":"replay: not recorded: ` + strings.ReplaceAll(k, `"`, `'`) + `"}`, nil, false, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(resp, &obj); err != nil {
		n.t.Fatalf("replay: bad recorded response for %s", k)
	}
	if e, ok := obj["error"]; ok {
		return `"error":` + string(e), nil, false, false
	}
	return `"result":` + string(obj["result"]), nil, false, false
}
