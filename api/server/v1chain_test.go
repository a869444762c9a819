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

type chainSource map[string]any

func (c chainSource) ChainStatus(context.Context) (any, error) { return map[string]any(c), nil }

func TestV1Chain(t *testing.T) {
	tests := []struct {
		name   string
		chain  server.ChainSource
		status int
		want   string
	}{
		{"offline", nil, http.StatusNotFound, "runs offline"},
		{"online", chainSource{"network": "test", "uid": 3}, http.StatusOK, `"network":"test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := server.New(server.Options{Chain: tt.chain})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/chain", nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET /v1/chain = %d %s, want %d containing %s", rec.Code, rec.Body, tt.status, tt.want)
			}
		})
	}
}
