package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
)

type chainSource api.ChainStatus

func (c chainSource) ChainStatus(context.Context) (*api.ChainStatus, error) {
	s := api.ChainStatus(c)
	return &s, nil
}

type axonSource api.AxonReport

func (a axonSource) AxonStatus(context.Context) (*api.AxonReport, error) {
	r := api.AxonReport(a)
	return &r, nil
}

// statusCase is one GET of a JSON status route: the server's options and
// the answer wanted.
type statusCase struct {
	name   string
	opt    server.Options
	status int
	want   string // a part of the body, which must be JSON
}

// testStatusRoute runs each case as a subtest against a server of its own.
func testStatusRoute(t *testing.T, path string, tests []statusCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := server.New(tt.opt)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET %s = %d %s, want %d containing %s", path, rec.Code, rec.Body, tt.status, tt.want)
			}
		})
	}
}

func TestV1Chain(t *testing.T) {
	testStatusRoute(t, "/v1/chain", []statusCase{
		{"offline", server.Options{}, http.StatusNotFound, "runs offline"},
		{"online", server.Options{Chain: chainSource{Network: "test", Netuid: 3}}, http.StatusOK, `"network":"test","endpoint":"","netuid":3`},
	})
}

func TestV1Axon(t *testing.T) {
	testStatusRoute(t, "/v1/axon", []statusCase{
		{"no axon", server.Options{}, http.StatusNotFound, "no axon runs"},
		{"axon", server.Options{Axon: axonSource{Hotkey: "5F", Validators: api.Validators{Answered: 2}}}, http.StatusOK, `"answered":2`},
	})
}
