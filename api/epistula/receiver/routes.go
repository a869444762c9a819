package receiver

import (
	"net/http"
	"strings"
)

// Routes are what admitted Epistula callers reach: the KServe v2 inference
// routes (POST /v2/models/{name}[/versions/{v}]/infer) answered by KServe,
// the HTTP port's own handler, and the routes of Mapped (the synapse
// mapping files' Epistula routes).
type Routes struct {
	// KServe answers the inference routes (nil: none).
	KServe http.Handler
	// Mapped finds the other routes (nil: none).
	Mapped Router
}

// Route implements Router.
func (rt Routes) Route(method, path string) (http.Handler, []string) {
	if rt.KServe != nil && IsInferPath(path) {
		if method != http.MethodPost {
			return nil, []string{http.MethodPost}
		}
		return rt.KServe, nil
	}
	if rt.Mapped != nil {
		return rt.Mapped.Route(method, path)
	}
	return nil, nil
}

// IsInferPath reports whether path is a KServe v2 inference route:
// /v2/models/{name}/infer or /v2/models/{name}/versions/{v}/infer.
func IsInferPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/v2/models/")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, "/infer")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	switch len(parts) {
	case 1:
		return parts[0] != ""
	case 3:
		return parts[0] != "" && parts[1] == "versions" && parts[2] != ""
	}
	return false
}
