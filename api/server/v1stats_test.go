package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
)

// throughputBackend is a fakeBackend whose statistics report throughput.
type throughputBackend struct {
	*fakeBackend
	stats *api.ThroughputStats
	err   error
}

var _ server.ThroughputSource = throughputBackend{}

func (b throughputBackend) Throughput(context.Context) (*api.ThroughputStats, error) {
	return b.stats, b.err
}

func TestV1Stats(t *testing.T) {
	want := &api.ThroughputStats{Time: time.Date(2026, 11, 22, 1, 40, 0, 0, time.UTC), UptimeSeconds: 12.5,
		Models: []api.ModelThroughput{{Name: "ppocr_cls", Version: "1", Ready: true, QueueDepth: 2,
			Windows: api.ThroughputWindows{Last1s: api.ThroughputWindow{InferPerS: 8, RequestsPerS: 2, P50Ms: 1.5, AvgBatch: 4}},
			Totals:  api.ThroughputTotals{InferenceCount: 8, ExecutionCount: 2, Success: 2}}}}
	f := &fakeBackend{}
	get := func(b throughputBackend) *http.Response {
		srv := httptest.NewServer(server.New(server.Options{Inferer: f, Catalog: f, Repository: f, Stats: b}))
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/v1/stats")
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get(throughputBackend{fakeBackend: f, stats: want})
	defer resp.Body.Close()
	var got api.ThroughputStats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/stats: %d, %v", resp.StatusCode, err)
	}
	if got.Time != want.Time || len(got.Models) != 1 || got.Models[0] != want.Models[0] {
		t.Errorf("GET /v1/stats = %+v, want %+v", got, want)
	}
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}

	resp = get(throughputBackend{fakeBackend: f, err: errors.New("index unreadable")})
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("failing source: status %d, want 500", resp.StatusCode)
	}

	// Without a throughput source there is no route.
	srv := newServer(f)
	defer srv.Close()
	r, err := http.Get(srv.URL + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("without a source: status %d, want 404", r.StatusCode)
	}
}
