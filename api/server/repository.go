package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/guard"
)

// smallBodyLimit bounds the JSON bodies of the repository endpoints.
const smallBodyLimit = 1 << 20

// decodeOptional decodes an optional small JSON body strictly into v.
func decodeOptional(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, smallBodyLimit))
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.BadRequest("invalid JSON body: %v", err)
	}
	return nil
}

func bodyError(err error) error {
	if rf, ok := guard.AsRefusal(err); ok {
		return api.Errorf(rf.Status, "%s", rf.Message)
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return api.Errorf(http.StatusRequestEntityTooLarge, "request body too large: %v", err)
	}
	return api.BadRequest("read request body: %v", err)
}

func (h *handlers) index(c *gin.Context) {
	var req api.RepositoryIndexRequest
	if err := decodeOptional(c, &req); err != nil {
		writeError(c, err)
		return
	}
	rows, err := h.opt.Repository.Index(c.Request.Context(), req.Ready)
	if err != nil {
		writeError(c, err)
		return
	}
	if rows == nil {
		rows = []api.RepositoryIndexEntry{}
	}
	c.JSON(http.StatusOK, rows)
}

// loadRequest is the body of a load request. Triton's parameters (an inline
// config or files) are not supported; only an empty or parameter-free body
// is accepted.
type loadRequest struct {
	Parameters map[string]any `json:"parameters"`
}

func (h *handlers) load(c *gin.Context) {
	var req loadRequest
	if err := decodeOptional(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if len(req.Parameters) > 0 {
		writeError(c, api.BadRequest("load parameters (config, file:) are not supported; put the model and its config.yaml in the repository folder"))
		return
	}
	if err := h.opt.Repository.Load(c.Request.Context(), c.Param("model")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (h *handlers) unload(c *gin.Context) {
	var req loadRequest
	if err := decodeOptional(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := h.opt.Repository.Unload(c.Request.Context(), c.Param("model")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}
