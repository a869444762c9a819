package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/server"
)

// fakeBackend answers every role with fixed results; Infer returns err or
// echoes the inputs as outputs.
type fakeBackend struct {
	err   error
	panic bool
}

var (
	_ server.Inferer     = (*fakeBackend)(nil)
	_ server.Catalog     = (*fakeBackend)(nil)
	_ server.Repository  = (*fakeBackend)(nil)
	_ server.StatsSource = (*fakeBackend)(nil)
)

func (f *fakeBackend) Infer(_ context.Context, model, version string, req *api.InferRequest) (*api.InferResponse, error) {
	if f.panic {
		panic("boom")
	}
	if f.err != nil {
		return nil, f.err
	}
	resp := &api.InferResponse{ModelName: model, ModelVersion: "1", ID: req.ID}
	for _, in := range req.Inputs {
		resp.Outputs = append(resp.Outputs, api.ResponseOutput{Tensor: in, Binary: req.BinaryOutput})
	}
	return resp, nil
}
func (f *fakeBackend) Ready() bool                     { return f.err == nil }
func (f *fakeBackend) ModelReady(string, string) error { return f.err }
func (f *fakeBackend) ModelMetadata(m, _ string) (*api.ModelMetadata, error) {
	return &api.ModelMetadata{Name: m, Inputs: []api.TensorMetadata{{Name: "in", Datatype: "UINT8", Shape: []int64{-1, 4}}}}, f.err
}
func (f *fakeBackend) Index(context.Context, bool) ([]api.RepositoryIndexEntry, error) {
	return nil, f.err
}
func (f *fakeBackend) Load(context.Context, string) error   { return f.err }
func (f *fakeBackend) Unload(context.Context, string) error { return f.err }
func (f *fakeBackend) Stats(string, string) (*api.ModelStatsResponse, error) {
	return &api.ModelStatsResponse{}, f.err
}

func newServer(f *fakeBackend) *httptest.Server {
	gin.SetMode(gin.ReleaseMode)
	return httptest.NewServer(server.New(server.Options{Inferer: f, Catalog: f, Repository: f, Stats: f, MaxBodyBytes: 1000}))
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		name       string
		backend    *fakeBackend
		method     string
		path, body string
		header     map[string]string
		status     int
		want       string
		retryAfter bool
	}{
		{"queue full", &fakeBackend{err: api.Errorf(429, "model 'm': model queue is full")}, "POST", "/v2/models/m/infer", `{"inputs":[]}`, nil, 429, "queue is full", true},
		{"panic", &fakeBackend{panic: true}, "POST", "/v2/models/m/infer", `{"inputs":[]}`, nil, 500, "internal error", false},
		{"plain error is 500", &fakeBackend{err: io.ErrUnexpectedEOF}, "POST", "/v2/models/m/infer", `{"inputs":[]}`, nil, 500, "unexpected EOF", false},
		{"body over limit", &fakeBackend{}, "POST", "/v2/models/m/infer", strings.Repeat(" ", 1001), nil, 413, "too large", false},
		{"index body over limit", &fakeBackend{}, "POST", "/v2/repository/index", strings.Repeat(" ", 2<<20), nil, 413, "too large", false},
		{"not ready", &fakeBackend{err: api.Errorf(503, "model 'm' is not ready")}, "GET", "/v2/models/m/ready", "", nil, 503, "not ready", false},
		{"raw binary too short", &fakeBackend{}, "POST", "/v2/models/m/infer", "abc", map[string]string{server.HeaderContentLength: "0"}, 400, "needs 4 bytes, got 3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(tt.backend)
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); tt.status >= 400 && !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if got := resp.Header.Get("Retry-After") != ""; got != tt.retryAfter {
				t.Errorf("Retry-After present = %v, want %v", got, tt.retryAfter)
			}
		})
	}
}

func TestRawBinaryRequest(t *testing.T) {
	srv := newServer(&fakeBackend{})
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v2/models/m/infer", strings.NewReader("abcd"))
	req.Header.Set(server.HeaderContentLength, "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("raw request: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	hl := resp.Header.Get(server.HeaderContentLength)
	if !strings.HasSuffix(string(body), "abcd") || !strings.Contains(string(body), `"shape":[1,4]`) || hl == "" {
		t.Errorf("raw echo = %s (header length %s), want shape [1,4] and the bytes after the JSON", body, hl)
	}
}
