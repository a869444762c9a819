package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStarting: while the node starts, liveness is 200, readiness 503,
// /metrics what the node gives, and every other route 503 with the phase,
// each of those told to refused once (readiness's 503 is not).
func TestStarting(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	var refused []string
	h := Starting(func() string { return "loading models" }, metrics, func(r *http.Request) { refused = append(refused, r.URL.Path) })
	tests := []struct {
		method, path string
		status       int
		body         string
		counted      bool
	}{
		{"GET", "/v2/health/live", 200, "", false},
		{"GET", "/v2/health/ready", 503, "", false},
		{"GET", "/metrics", 200, "m 1\n", false},
		{"POST", "/v2/models/m/infer", 503, `{"error":"starting: loading models"}`, true},
		{"GET", "/", 503, `{"error":"starting: loading models"}`, true},
	}
	for _, tt := range tests {
		refused = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || w.Body.String() != tt.body {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, w.Code, w.Body, tt.status, tt.body)
		}
		want := 0
		if tt.counted {
			want = 1
		}
		if len(refused) != want {
			t.Errorf("%s %s: told refused %d times, want %d", tt.method, tt.path, len(refused), want)
		}
		if tt.status == 503 && tt.body != "" && w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", tt.method, tt.path)
		}
	}
}
