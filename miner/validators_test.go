package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/chainfixture"

	"github.com/taominer/taominer/miner/internal/chaincmd"

	"github.com/taominer/taominer/api"

	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/dendrite"
)

// TestAxonRecentQueries: calls to an offline node's axon by the Go dendrite
// show in GET /v1/axon (GET /v1/chain is a 404 offline) and in `miner
// status --url`, text and JSON: caller, synapse, status, refusal reason.
func TestAxonRecentQueries(t *testing.T) {
	tn, addr, _ := startAxonNode(t, nil)
	target := dendrite.Target{Addr: addr, Hotkey: axonDevKey(t, "//Bob").SS58()}
	alice, charlie := axonDevKey(t, "//Alice"), axonDevKey(t, "//Charlie")
	for _, tc := range []struct {
		uri    string
		status int
	}{{"//Alice", 200}, {"//Charlie", 403}} {
		c, err := dendrite.New(axonDevKey(t, tc.uri))
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Call(context.Background(), target, rowSumSynapse())
		if err != nil || r.Status != tc.status {
			t.Fatalf("call by %s: %v %+v", tc.uri, err, r)
		}
	}

	res := tn.do(t, http.MethodGet, "/v1/axon", nil, nil)
	var rep api.AxonReport
	if res.status != 200 || json.Unmarshal(res.body, &rep) != nil {
		t.Fatalf("GET /v1/axon = %d %s", res.status, res.body)
	}
	v := rep.Validators
	if rep.Hotkey != target.Hotkey || rep.Addr == "" || v.Answered != 1 || v.Refused != 1 || len(v.Recent) != 2 || len(v.Callers) != 2 {
		t.Fatalf("GET /v1/axon = %s", res.body)
	}
	want := []api.AxonQuery{
		{Hotkey: charlie.SS58(), Synapse: "Infer", Status: 403, Reason: axon.ReasonNotAllowed},
		{Hotkey: alice.SS58(), Synapse: "Infer", Status: 200},
	}
	for i, w := range want {
		q := v.Recent[i]
		if q.Hotkey != w.Hotkey || q.Synapse != w.Synapse || q.Status != w.Status || q.Reason != w.Reason || q.UID != nil || q.Time.IsZero() {
			t.Errorf("recent[%d] = %+v, want %+v", i, q, w)
		}
	}
	if r := tn.do(t, http.MethodGet, "/v1/chain", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/chain offline = %d", r.status)
	}

	// miner status --url falls back to GET /v1/axon for the offline node.
	f := chainfixture.New(t)
	top := recordedTopMiner(t, f)
	root := pubWallet(t, nil, top.Hotkey, top.Coldkey)
	code, out, errOut := runStatus(t, f, root, "--json", "--url", tn.url)
	var st chaincmd.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status --json: exit %d %s %s", code, out, errOut)
	}
	if st.Validators == nil || len(st.Validators.Recent) != 2 || st.Validators.Recent[0].Reason != axon.ReasonNotAllowed ||
		!strings.Contains(st.NodeError, "404") {
		t.Errorf("status --json validators %+v, node error %q", st.Validators, st.NodeError)
	}
	code, out, errOut = runStatus(t, f, root, "--url", tn.url)
	if code != 0 {
		t.Fatalf("status: exit %d %s", code, errOut)
	}
	for _, want := range []string{
		"validators  1 answered, 1 refused since ",
		"recent calls, newest first:",
		charlie.SS58(), "not_allowed", alice.SS58(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
}
