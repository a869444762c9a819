package axon_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/taominer/taominer/api/axon"
)

// TestRecentQueries: calls made with the Go dendrite over real HTTP show in
// the recent-queries log, newest first, with caller hotkey, UID, synapse,
// status, refusal reason and process time, and in the per-caller counters.
func TestRecentQueries(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	alice := client(t, "Alice")
	for range 2 {
		if r, err := alice.Call(ctx, f.target(), inferRequest(t)); err != nil || r.Status != 200 {
			t.Fatalf("genuine call: %v %+v", err, r)
		}
	}
	s, err := alice.Sign(f.target(), inferRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if r := alice.Send(ctx, s); r.Status != 200 {
		t.Fatalf("status %d %s", r.Status, r.Message)
	}
	if r := alice.Send(ctx, s); r.Status != http.StatusUnauthorized { // replayed
		t.Fatalf("replay: status %d %s", r.Status, r.Message)
	}
	for _, name := range []string{"Charlie", "Dave"} {
		if r, err := client(t, name).Call(ctx, f.target(), inferRequest(t)); err != nil || r.Status != http.StatusForbidden {
			t.Fatalf("%s: %v %+v", name, err, r)
		}
	}

	uid := func(u int) *int { return &u }
	want := []struct {
		who    string
		uid    *int
		status int
		reason string
	}{
		{"Dave", uid(3), 403, axon.ReasonNoPermit},
		{"Charlie", nil, 403, axon.ReasonUnregistered},
		{"Alice", uid(0), 401, axon.ReasonReplayedNonce},
		{"Alice", uid(0), 200, ""},
		{"Alice", uid(0), 200, ""},
		{"Alice", uid(0), 200, ""},
	}
	got := f.ax.Recent()
	if len(got) != len(want) {
		t.Fatalf("got %d recent queries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		q := got[i]
		if q.Hotkey != key(t, w.who).SS58() || fmt.Sprint(deref(q.UID)) != fmt.Sprint(deref(w.uid)) ||
			q.Status != w.status || q.Reason != w.reason || q.Synapse != "Infer" {
			t.Errorf("recent[%d] = %+v (uid %v), want %s uid %v status %d reason %q", i, q, deref(q.UID), w.who, deref(w.uid), w.status, w.reason)
		}
		if q.Time.IsZero() || q.ProcessMS < 0 || (w.reason != "" && q.Message == "") {
			t.Errorf("recent[%d] = %+v: time, process time or message missing", i, q)
		}
		if i > 0 && q.Time.After(got[i-1].Time) {
			t.Errorf("recent[%d] is newer than recent[%d]", i, i-1)
		}
	}

	v := f.ax.Validators()
	if v.Answered != 3 || v.Refused != 3 {
		t.Errorf("totals answered %d refused %d, want 3 and 3", v.Answered, v.Refused)
	}
	if len(v.Callers) != 3 {
		t.Fatalf("callers %+v", v.Callers)
	}
	top := v.Callers[0]
	if top.Hotkey != key(t, "Alice").SS58() || deref(top.UID) != 0 || top.Answered != 3 || top.Refused != 1 ||
		top.Errors != 0 || top.LastStatus != 401 || top.LastSeen.IsZero() {
		t.Errorf("top caller %+v, want Alice uid 0: 3 answered, 1 refused, last status 401", top)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRecentQueriesBounded: the log keeps only the last RecentSize calls,
// and a flood of forged hotkeys neither grows the caller table past
// TopCallers nor pushes out the validator that made the most calls.
func TestRecentQueriesBounded(t *testing.T) {
	f := newFixture(t, func(o *axon.Options) { o.RecentSize, o.TopCallers = 5, 3 })
	ctx := context.Background()
	alice := client(t, "Alice")
	for range 3 {
		if r, err := alice.Call(ctx, f.target(), inferRequest(t)); err != nil || r.Status != 200 {
			t.Fatalf("genuine call: %v %+v", err, r)
		}
	}
	for i := range 20 {
		c := client(t, fmt.Sprintf("Forger%d", i))
		s, err := c.Sign(f.target(), inferRequest(t))
		if err != nil {
			t.Fatal(err)
		}
		if r := c.Send(ctx, s); r.Status != http.StatusForbidden {
			t.Fatalf("forger %d: status %d", i, r.Status)
		}
	}
	forged := func(i int) string { return key(t, fmt.Sprintf("Forger%d", i)).SS58() }
	recent := f.ax.Recent()
	if len(recent) != 5 {
		t.Fatalf("recent holds %d calls, want 5", len(recent))
	}
	for i, q := range recent {
		if q.Hotkey != forged(19-i) || q.Reason != axon.ReasonUnregistered {
			t.Errorf("recent[%d] = %+v, want forger %d refused as unregistered", i, q, 19-i)
		}
	}
	callers := f.ax.Callers()
	if len(callers) != 3 {
		t.Fatalf("callers holds %d hotkeys, want 3: %+v", len(callers), callers)
	}
	if callers[0].Hotkey != key(t, "Alice").SS58() || callers[0].Answered != 3 {
		t.Errorf("busiest caller %+v, want Alice with 3 answered", callers[0])
	}
	if v := f.ax.Validators(); v.Answered != 3 || v.Refused != 20 {
		t.Errorf("totals %d answered, %d refused; want 3 and 20", v.Answered, v.Refused)
	}
}
