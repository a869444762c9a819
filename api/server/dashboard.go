package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"

	"github.com/gin-gonic/gin"
)

// The dashboard is a static page (HTML, CSS and plain JS, no build step, no
// external resources) that polls GET /v1/stats every second and draws the
// model table and 60-second charts client-side.
//
//go:embed static
var dashboardFS embed.FS

// dashboardCSP keeps the page self-contained: it loads and calls nothing but
// this server.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardAsset is one embedded file, ready to serve.
type dashboardAsset struct {
	name, contentType, etag string
	body                    []byte
}

// dashboardRoutes maps URL paths to embedded files. The page is served at /
// and /dashboard; it refers to its assets by relative URL, so both resolve
// them under /dashboard/.
var dashboardRoutes = map[string]string{
	"/":                  "static/index.html",
	"/dashboard":         "static/index.html",
	"/dashboard/app.js":  "static/app.js",
	"/dashboard/app.css": "static/app.css",
}

var dashboardTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// registerDashboard adds GET and HEAD routes for the dashboard page and its
// assets. They are exact paths, so they shadow none of the API routes.
func registerDashboard(r gin.IRoutes) {
	for route, file := range dashboardRoutes {
		a := loadDashboardAsset(file)
		r.GET(route, a.serve)
		r.HEAD(route, a.serve)
	}
}

func loadDashboardAsset(file string) *dashboardAsset {
	body, err := dashboardFS.ReadFile(file)
	if err != nil {
		panic("server: dashboard asset missing: " + err.Error()) // embedded; cannot happen
	}
	sum := sha256.Sum256(body)
	ct := dashboardTypes[path.Ext(file)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &dashboardAsset{
		name:        path.Base(file),
		contentType: ct,
		etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		body:        body,
	}
}

// serve writes the asset with no-cache (revalidate every time, cheap thanks
// to the ETag) so a new miner build never runs a stale page.
func (a *dashboardAsset) serve(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.contentType == dashboardTypes[".html"] {
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("Referrer-Policy", "no-referrer")
	}
	http.ServeContent(c.Writer, c.Request, a.name, time.Time{}, bytes.NewReader(a.body))
}
