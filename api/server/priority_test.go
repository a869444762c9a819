package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
)

type priorityKey struct{}

// priorityBackend is a fakeBackend that keeps the priority each request
// reached it with.
type priorityBackend struct {
	fakeBackend
	got []float64
}

func (p *priorityBackend) Infer(ctx context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error) {
	p.got = append(p.got, req.Priority)
	return p.fakeBackend.Infer(ctx, model, version, req)
}

// TestInferHandlerPriority: Options.Priority gives each request its
// priority from the request's context (the Epistula receiver's signer);
// without it the request keeps 0 (parameters.priority and the model's
// config decide).
func TestInferHandlerPriority(t *testing.T) {
	fromCtx := func(ctx context.Context) float64 {
		if v, ok := ctx.Value(priorityKey{}).(float64); ok {
			return v
		}
		return 0
	}
	tests := []struct {
		name     string
		priority func(context.Context) float64
		ctxValue any
		want     float64
	}{
		{"no hook", nil, 4.5, 0},
		{"hook, value in the context", fromCtx, 4.5, 4.5},
		{"hook, nothing in the context", fromCtx, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gin.SetMode(gin.ReleaseMode)
			b := &priorityBackend{}
			h := server.InferHandler(server.Options{Inferer: b, Catalog: b, Repository: b, Stats: b, Priority: tt.priority})
			body := `{"inputs":[{"name":"in","datatype":"UINT8","shape":[1,4],"data":[1,2,3,4]}],"parameters":{"priority":2}}`
			r := httptest.NewRequest(http.MethodPost, "/v2/models/m/infer", strings.NewReader(body))
			if tt.ctxValue != nil {
				r = r.WithContext(context.WithValue(r.Context(), priorityKey{}, tt.ctxValue))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if len(b.got) != 1 || b.got[0] != tt.want {
				t.Errorf("priorities reaching the backend %v, want [%v]", b.got, tt.want)
			}
		})
	}
}
