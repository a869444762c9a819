package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taominer/taominer/api/server"
)

type axonSource map[string]any

func (a axonSource) AxonStatus(context.Context) (any, error) { return map[string]any(a), nil }

func TestV1Axon(t *testing.T) {
	tests := []struct {
		name   string
		axon   server.AxonSource
		status int
		want   string
	}{
		{"no axon", nil, http.StatusNotFound, "no axon runs"},
		{"axon", axonSource{"answered": 2, "recent": []any{}}, http.StatusOK, `"answered":2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := server.New(server.Options{Axon: tt.axon})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/axon", nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET /v1/axon = %d %s, want %d containing %s", rec.Code, rec.Body, tt.status, tt.want)
			}
		})
	}
}
