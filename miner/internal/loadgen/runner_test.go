package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/taominer/taominer/api"
)

// fakeServer is a small KServe v2 handler for one model "m" with input x
// FP32 [-1,4]. Every failEvery-th infer request (if set) is answered with
// failStatus; each answer waits delay. Its statistics report two items per
// execution.
type fakeServer struct {
	delay      time.Duration
	failEvery  int
	failStatus int
	shape      []int64 // the metadata's input shape

	mu         sync.Mutex
	requests   int
	inferences uint64
	badBodies  []string
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/models/m":
		shape := f.shape
		if shape == nil {
			shape = []int64{-1, 4}
		}
		writeJSON(200, api.ModelMetadata{Name: "m", Inputs: []api.TensorMetadata{{Name: "x", Datatype: "FP32", Shape: shape}}})
	case r.Method == http.MethodGet && r.URL.Path == "/v2/models/m/stats":
		f.mu.Lock()
		s := api.ModelStatistics{Name: "m", Version: "1", InferenceCount: f.inferences, ExecutionCount: f.inferences / 2}
		f.mu.Unlock()
		writeJSON(200, api.ModelStatsResponse{ModelStats: []api.ModelStatistics{s}})
	case r.Method == http.MethodPost && r.URL.Path == "/v2/models/m/infer":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		hl := -1
		if v := r.Header.Get("Inference-Header-Content-Length"); v != "" {
			hl, _ = strconv.Atoi(v)
		}
		req, err := api.DecodeInferRequest(body, hl)
		if err == nil && (len(req.Inputs) != 1 || !slices.Equal(req.Inputs[0].Shape, []int64{2, 4})) {
			err = fmt.Errorf("inputs %+v", req.Inputs)
		}
		time.Sleep(f.delay)
		f.mu.Lock()
		f.requests++
		n := f.requests
		if err != nil {
			f.badBodies = append(f.badBodies, err.Error())
		}
		fail := f.failEvery > 0 && n%f.failEvery == 0
		if err == nil && !fail {
			f.inferences += 2
		}
		f.mu.Unlock()
		switch {
		case err != nil:
			writeJSON(400, api.ErrorBody{Error: err.Error()})
		case fail:
			writeJSON(f.failStatus, api.ErrorBody{Error: "injected failure"})
		default:
			writeJSON(200, api.InferResponse{ModelName: "m", ModelVersion: "1"})
		}
	default:
		writeJSON(404, api.ErrorBody{Error: "no such endpoint: " + r.URL.Path})
	}
}

func fakeOptions(url string) Options {
	return Options{
		URL: url, Model: "m", Protocols: []string{"json", "binary"}, Concurrency: []int{1, 3}, Batch: 2, Seed: 1,
		Measure: Measure{Window: 200 * time.Millisecond, Stability: 100, MaxTrials: 3},
	}
}

func TestRunCountsRequestsAndErrors(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := &fakeServer{delay: 2 * time.Millisecond, failEvery: 4, failStatus: http.StatusTooManyRequests}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var progress strings.Builder
	o := fakeOptions(srv.URL)
	o.Progress = NewProgress(&progress, false)
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.badBodies) > 0 {
		t.Fatalf("the server got bad bodies: %q", f.badBodies)
	}
	var order []string
	for _, row := range rep.Rows {
		order = append(order, fmt.Sprintf("%s/%d", row.Protocol, row.Concurrency))
		if row.Windows != 3 || !row.Stable {
			t.Errorf("%s/%d: %d windows, stable %v; want 3 windows, stable (threshold 10000%%)", row.Protocol, row.Concurrency, row.Windows, row.Stable)
		}
		if row.Requests == 0 || row.InferPerSec != 2*row.ReqPerSec {
			t.Errorf("%s/%d: %d requests, %.1f infer/s, %.1f req/s; want requests and infer/s = 2 × req/s", row.Protocol, row.Concurrency, row.Requests, row.InferPerSec, row.ReqPerSec)
		}
		// Every 4th request fails: about one failure per three successes.
		if d := row.Requests - 3*row.Errors; d < -3*(row.Concurrency+1) || d > 3*(row.Concurrency+1) {
			t.Errorf("%s/%d: %d successes, %d failures; want about 3 successes per failure", row.Protocol, row.Concurrency, row.Requests, row.Errors)
		}
		if len(row.ErrorsByStatus) != 1 || row.ErrorsByStatus["429"] != row.Errors || row.FirstError != "429: injected failure" {
			t.Errorf("%s/%d: errors by status %v, first %q; want only 429: injected failure", row.Protocol, row.Concurrency, row.ErrorsByStatus, row.FirstError)
		}
		if row.AvgBatch < 1.8 || row.AvgBatch > 2.2 {
			t.Errorf("%s/%d: avg batch %.2f, want about 2 (the fake's statistics)", row.Protocol, row.Concurrency, row.AvgBatch)
		}
		if row.Latency.P50 < 2 || row.Latency.P50 > row.Latency.P90 || row.Latency.P90 > row.Latency.P95 || row.Latency.P95 > row.Latency.P99 {
			t.Errorf("%s/%d: latency %+v; want 2 ms ≤ p50 ≤ p90 ≤ p95 ≤ p99", row.Protocol, row.Concurrency, row.Latency)
		}
		if row.Ratio != nil {
			t.Errorf("%s/%d: ratio without a raw measurement", row.Protocol, row.Concurrency)
		}
	}
	if want := []string{"json/1", "json/3", "binary/1", "binary/3"}; !slices.Equal(order, want) {
		t.Errorf("rows %v, want %v", order, want)
	}
	if rep.Errors() == 0 {
		t.Error("Report.Errors() = 0 with injected failures")
	}
	if lines := strings.Count(progress.String(), "\n"); lines != 12 {
		t.Errorf("progress wrote %d lines, want one per window (12):\n%s", lines, progress.String())
	}
}

func TestRunWindowsBounded(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{delay: time.Millisecond})
	defer srv.Close()
	tests := []struct {
		name        string
		stability   float64
		maxTrials   int
		wantWindows int
		wantStable  bool
	}{
		{"stable at once", 100, 5, 3, true},
		{"never stable", 1e-12, 4, 4, false},
		{"fewer trials than the stability window", 100, 2, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fakeOptions(srv.URL)
			o.Protocols, o.Concurrency = []string{"binary"}, []int{2}
			o.Measure = Measure{Window: 30 * time.Millisecond, Stability: tt.stability, MaxTrials: tt.maxTrials}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			row := rep.Rows[0]
			if row.Windows != tt.wantWindows || row.Stable != tt.wantStable {
				t.Errorf("stability %v, max trials %d: %d windows, stable %v; want %d, %v", tt.stability, tt.maxTrials, row.Windows, row.Stable, tt.wantWindows, tt.wantStable)
			}
			if row.Errors != 0 {
				t.Errorf("errors %v", row.ErrorsByStatus)
			}
		})
	}
}

func TestRunEverythingFails(t *testing.T) {
	f := &fakeServer{failEvery: 1, failStatus: http.StatusServiceUnavailable}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o := fakeOptions(srv.URL)
	o.Protocols, o.Concurrency = []string{"json"}, []int{1, 2}
	o.Measure.MaxTrials = 10
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Rows {
		if row.Windows != 1 || row.Requests != 0 || row.Errors == 0 || row.ErrorsByStatus["503"] != row.Errors {
			t.Errorf("c=%d: %d windows, %d requests, errors %v; want one window of 503s only", row.Concurrency, row.Windows, row.Requests, row.ErrorsByStatus)
		}
	}
	if len(rep.Rows) != 2 || rep.Errors() == 0 {
		t.Errorf("%d rows, %d errors; want 2 rows with errors", len(rep.Rows), rep.Errors())
	}
}

func TestRunCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := httptest.NewServer(&fakeServer{delay: time.Millisecond})
	defer srv.Close()
	o := fakeOptions(srv.URL)
	o.Measure = Measure{Window: 10 * time.Second, Stability: 0.1, MaxTrials: 10}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v, want the context's", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %v after cancellation, want it to stop at once", took)
	}
	if rep == nil || len(rep.Rows) != 0 {
		t.Errorf("report %+v, want an empty report (no window finished)", rep)
	}
}

func TestRunSetupErrors(t *testing.T) {
	srv := httptest.NewServer(&fakeServer{shape: []int64{-1, -1}})
	defer srv.Close()
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{"unknown model", func(o *Options) { o.Model = "nope" }, "model metadata: GET " + srv.URL + "/v2/models/nope: status 404: no such endpoint: /v2/models/nope"},
		{"variable dims", func(o *Options) {}, `model m: input "x" has variable dimensions (declared [-1,-1]): fix them with --shape x:D1`},
		{"unknown shape name", func(o *Options) { o.Shapes = Shapes{"x": {4}, "y": {1}} }, `--shape y: the model has no input "y"`},
		{"server down", func(o *Options) { o.URL = "http://127.0.0.1:1" }, "connection refused"},
		{"nothing to do", func(o *Options) { o.Model = "" }, "nothing to measure"},
		{"bad protocol", func(o *Options) { o.Protocols = []string{"http2"} }, `protocol "http2": want json, binary or grpc`},
		{"grpc without an address", func(o *Options) { o.Protocols = []string{"grpc"} }, "protocol grpc needs the gRPC address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fakeOptions(srv.URL)
			tt.edit(&o)
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, true)
	p.Update("window %d", 10)
	p.Update("w %d", 2)
	p.Clear()
	if want := "\rwindow 10\rw 2      \r   \r"; b.String() != want {
		t.Errorf("terminal progress wrote %q, want %q", b.String(), want)
	}
	b.Reset()
	p = NewProgress(&b, false)
	p.Update("a")
	p.Update("b")
	p.Clear()
	if b.String() != "a\nb\n" {
		t.Errorf("plain progress wrote %q, want one line per update", b.String())
	}
	var none *Progress
	none.Update("ignored")
	none.Clear()
}
