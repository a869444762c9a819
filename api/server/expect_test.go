package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
)

type expectKey struct{}

// expectingBackend is a fakeBackend that gathers batches: it records each
// announcement and whether Infer ran with the announced context.
type expectingBackend struct {
	fakeBackend
	mu     sync.Mutex
	events []string
}

var _ server.Expecter = (*expectingBackend)(nil)

func (e *expectingBackend) log(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, s)
}

func (e *expectingBackend) Expect(ctx context.Context, model, version string) (context.Context, func()) {
	e.log("expect " + model + "/" + version)
	return context.WithValue(ctx, expectKey{}, true), func() { e.log("done") }
}

func (e *expectingBackend) Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error) {
	if ctx.Value(expectKey{}) == nil {
		e.log("infer without the announcement")
	} else {
		e.log("infer")
	}
	return e.fakeBackend.Infer(ctx, model, version, req)
}

// TestInferAnnounces checks that the infer route announces each request to
// an Inferer that gathers batches before decoding it, passes the announced
// context on, and ends the announcement whatever the answer.
func TestInferAnnounces(t *testing.T) {
	tests := []struct {
		name, path, body string
		status           int
		want             []string
	}{
		{"answered", "/v2/models/m/infer", `{"inputs":[{"name":"in","datatype":"UINT8","shape":[1,4],"data":[1,2,3,4]}]}`, 200,
			[]string{"expect m/", "infer", "done"}},
		{"versioned", "/v2/models/m/versions/2/infer", `{"inputs":[]}`, 200,
			[]string{"expect m/2", "infer", "done"}},
		{"undecodable", "/v2/models/m/infer", `{"inputs":`, 400,
			[]string{"expect m/", "done"}},
		{"too large", "/v2/models/m/infer", strings.Repeat(" ", 1001), 413,
			[]string{"expect m/", "done"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &expectingBackend{}
			gin.SetMode(gin.ReleaseMode)
			srv := newServerWith(t, b)
			resp, err := http.Post(srv+tt.path, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if strings.Join(b.events, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("events %q, want %q", b.events, tt.want)
			}
		})
	}
}

func newServerWith(t *testing.T, b *expectingBackend) string {
	t.Helper()
	srv := httptest.NewServer(server.New(server.Options{Inferer: b, Catalog: b, Repository: b, Stats: b, MaxBodyBytes: 1000}))
	t.Cleanup(srv.Close)
	return srv.URL
}
