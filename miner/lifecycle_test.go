package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/models/tensor"
)

// TestClientGoneIsNotRun: a request whose client disconnects while it waits
// in the batching window is dropped before the model runs and counted.
func TestClientGoneIsNotRun(t *testing.T) {
	tn := startNode(t, standardRepo(t), nil)
	body, hl := api.AppendInferRequest(nil, &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rand.New(rand.NewPCG(7, 7)), 1)}}, true)
	before := modelStats(t, tn, "ppocr_wait")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tn.url+"/v2/models/ppocr_wait/infer", bytes.NewReader(body))
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request with a 50ms client timeout against a 300ms batching window: err %v, want deadline exceeded", err)
	}
	// The batching window (300ms) closes, the dropped request is skipped.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := modelStats(t, tn, "ppocr_wait")
		if s.CancelledCount > before.CancelledCount {
			if s.ExecutionCount != before.ExecutionCount {
				t.Errorf("execution_count went from %d to %d: the abandoned request ran", before.ExecutionCount, s.ExecutionCount)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancelled_count stayed %d: the abandoned request was not dropped", s.CancelledCount)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownDrainsInFlight: a request in flight when the miner is told to
// stop is still answered.
func TestShutdownDrainsInFlight(t *testing.T) {
	cfg := config.DefaultServe()
	cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", ""
	cfg.ModelsDir = standardRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	n, err := newNode(ctx, cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.run(ctx) }()
	body, hl := api.AppendInferRequest(nil, &api.InferRequest{Inputs: []tensor.Tensor{clsInput(rand.New(rand.NewPCG(8, 8)), 1)}}, true)
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+n.Addr()+"/v2/models/ppocr_wait/infer", bytes.NewReader(body))
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(hl))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the request now waits in the 300ms batching window
	cancel()
	if got := <-status; got != http.StatusOK {
		t.Errorf("in-flight request during shutdown: status %d, want 200", got)
	}
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := http.Get("http://" + n.Addr() + "/v2/health/live"); err == nil {
		t.Errorf("server still accepts connections after shutdown")
	}
}
