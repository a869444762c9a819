package mapping

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/epistula/receiver"
)

// Compile-time check: a Set is the Epistula receiver's router.
var _ receiver.Router = (*Set)(nil)

const epistulaRows = "epistula:\n  - {path: /rows}\n  - {method: PUT, path: /rows}\n"

// TestSetEpistulaRoutes: a mapping's epistula routes are found by method
// and path, answer a JSON object of the output and set fields from a body
// of the input fields, give 400 for a body that is not an object, keep the
// first model's route on a conflict, and go with the file.
func TestSetEpistulaRoutes(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "rows", FileName)
	writeFile(t, folder, strings.Replace(listMapping, "labels:", epistulaRows+"set: {version: 3}\nlabels:", 1))
	fi := &fakeInferer{f: rowModel}
	var fellBack []string
	s := NewSet(SetOptions{Dir: dir, Inferer: fi, OnFallback: func(route, model, reason string) {
		fellBack = append(fellBack, route+"/"+model+"/"+reason)
	}})
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.EpistulaRoutes(), ","); got != "POST /rows,PUT /rows" {
		t.Fatalf("routes %s", got)
	}
	if h, allowed := s.Route("GET", "/rows"); h != nil || strings.Join(allowed, ",") != "POST,PUT" {
		t.Errorf("GET /rows: %v %v, want no handler and POST,PUT", h, allowed)
	}
	if h, allowed := s.Route("POST", "/other"); h != nil || allowed != nil {
		t.Errorf("POST /other: %v %v", h, allowed)
	}
	call := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		h, _ := s.Route(method, path)
		if h == nil {
			t.Fatalf("no route %s %s", method, path)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body)))
		return w
	}
	w := call("POST", "/rows", `{"rows":[[1,2,3],[4,5,6]],"dims":2}`)
	want := `{"doubled":[[2,4],[8,10]],"sums":[6.0,15.0],"best":["c","c"],"top":[[2,1],[2,1]],"version":3}`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("answer %d %s\nwant 200 %s", w.Code, w.Body, want)
	}
	if len(fi.reqs) != 1 {
		t.Errorf("%d model runs, want 1", len(fi.reqs))
	}
	for _, tc := range []struct{ body, says string }{
		{`[1,2]`, `body: expected a JSON object of the fields "rows"`},
		{`{"dims":2}`, `field "rows" is required`},
		{``, `field "rows" is required`},
	} {
		w = call("PUT", "/rows", tc.body)
		var e api.ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != 400 || !strings.Contains(e.Error, tc.says) {
			t.Errorf("body %q: %d %s, want 400 saying %s", tc.body, w.Code, w.Body, tc.says)
		}
	}
	// The model failing without fallbacks: its status and message.
	fi.f = func(*api.InferRequest) (*api.InferResponse, error) {
		return nil, api.Errorf(http.StatusTooManyRequests, "queue full")
	}
	if w = call("POST", "/rows", `{"rows":[[1,2,3]]}`); w.Code != 429 || !strings.Contains(w.Body.String(), "queue full") || w.Header().Get("Retry-After") == "" {
		t.Errorf("busy model: %d %s", w.Code, w.Body)
	}
	if len(fellBack) != 0 {
		t.Errorf("fallbacks %v without fallback values", fellBack)
	}
	// Another model claiming POST /rows: refused; the first keeps it.
	writeFile(t, filepath.Join(dir, "zz.synapse.yaml"), "version: 1\nepistula: [{path: /rows}]\n"+goodIn+goodOut)
	if err := s.Sync(); err == nil || !strings.Contains(err.Error(), `epistula route POST /rows is already served by model "rows"`) {
		t.Errorf("conflict: %v", err)
	}
	// The file gone: so are its routes.
	if err := os.RemoveAll(filepath.Join(dir, "rows")); err != nil {
		t.Fatal(err)
	}
	_ = s.Sync()
	if got := strings.Join(s.EpistulaRoutes(), ","); got != "POST /rows" {
		t.Errorf("after removal: %s (the other model's route should now serve)", got)
	}
}
