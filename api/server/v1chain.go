package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
)

// ChainSource reports the node's chain status for GET /v1/chain (the miner's network, subnet,
// UID, registration, axon and sync state). The server knows nothing of the chain itself.
type ChainSource interface {
	ChainStatus(ctx context.Context) (*api.ChainStatus, error)
}

// AxonSource reports what the node's axon saw of validators for GET /v1/axon (recent calls,
// per-caller counters).
type AxonSource interface {
	AxonStatus(ctx context.Context) (*api.AxonReport, error)
}

// routeV1Chain adds GET /v1/chain: the chain status, or 404 when the node runs offline; and
// GET /v1/axon: the axon's recent validator calls, or 404 when no axon runs.
func routeV1Chain(r gin.IRoutes, h *handlers) {
	r.GET("/v1/axon", func(c *gin.Context) {
		if h.opt.Axon == nil {
			writeError(c, api.NotFound("no axon runs: start the miner with --wallet and --hotkey to answer validators"))
			return
		}
		s, err := h.opt.Axon.AxonStatus(c.Request.Context())
		if err != nil {
			writeError(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, s)
	})
	r.GET("/v1/chain", func(c *gin.Context) {
		if h.opt.Chain == nil {
			writeError(c, api.NotFound("the miner runs offline: start it with --network, --netuid and --wallet to follow the chain"))
			return
		}
		s, err := h.opt.Chain.ChainStatus(c.Request.Context())
		if err != nil {
			writeError(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, s)
	})
}
