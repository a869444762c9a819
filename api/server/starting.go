package server

import (
	"encoding/json"
	"net/http"

	"github.com/taominer/taominer/api"
)

// Starting returns the handler of the HTTP port while the node starts,
// before New's handler replaces it: liveness answers 200, readiness 503,
// GET /metrics (when metrics is set) the metrics registered so far, and
// every other route 503 with {"error": "starting: " + phase()} ("loading
// models", "attaching to the chain") and Retry-After. The port thus
// answers, and probes see the node alive and not ready, from the moment it
// is bound. refused, when set, is told of each 503 "starting" answer (not
// of readiness's 503, a probe's answer rather than a refusal), so that the
// caller counts it once.
func Starting(phase func() string, metrics http.Handler, refused func(*http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/health/live":
			w.WriteHeader(http.StatusOK)
			return
		case "/v2/health/ready":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case "/metrics":
			if metrics != nil {
				metrics.ServeHTTP(w, r)
				return
			}
		}
		body, _ := json.Marshal(api.ErrorBody{Error: "starting: " + phase()})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
		if refused != nil {
			refused(r)
		}
	})
}
