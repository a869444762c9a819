package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStarting: while the node starts, liveness is 200, readiness 503,
// /metrics what the node gives, and every other route 503 with the phase.
func TestStarting(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	h := Starting(func() string { return "loading models" }, metrics)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/v2/health/live", 200, ""},
		{"GET", "/v2/health/ready", 503, ""},
		{"GET", "/metrics", 200, "m 1\n"},
		{"POST", "/v2/models/m/infer", 503, `{"error":"starting: loading models"}`},
		{"GET", "/", 503, `{"error":"starting: loading models"}`},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || w.Body.String() != tt.body {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, w.Code, w.Body, tt.status, tt.body)
		}
		if tt.status == 503 && tt.body != "" && w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", tt.method, tt.path)
		}
	}
}
