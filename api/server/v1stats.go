package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
)

// ThroughputSource reports recent throughput per model version for
// GET /v1/stats. The server serves the route when Options.Stats also
// implements it.
type ThroughputSource interface {
	Throughput(ctx context.Context) (*api.ThroughputStats, error)
}

// routeV1Stats adds GET /v1/stats when the statistics source reports
// throughput.
func routeV1Stats(r gin.IRoutes, h *handlers) {
	src, ok := h.opt.Stats.(ThroughputSource)
	if !ok {
		return
	}
	r.GET("/v1/stats", func(c *gin.Context) {
		s, err := src.Throughput(c.Request.Context())
		if err != nil {
			writeError(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, s)
	})
}
