package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/config"
)

// TestServeEmptyFolderWarns starts the miner on an empty model folder: it
// logs one warning naming the folder and what to put there, and readiness
// answers 503.
func TestServeEmptyFolderWarns(t *testing.T) {
	dir := t.TempDir()
	cfg := config.DefaultServe()
	cfg.HTTPAddr, cfg.ModelsDir, cfg.LogLevel = "127.0.0.1:0", dir, "info"
	cfg.GRPCAddr = ""
	var logs syncBuffer
	n, err := newNode(t.Context(), cfg, newLogger(cfg, &logs))
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, n)
	want := `level=WARN msg="no models in the model folder ` + dir + `: put NAME.onnx there (optional config NAME.yaml) or NAME/1/model.onnx (optional config NAME/config.yaml); ` +
		`the miner loads it when it appears (--model-control poll); until a model is ready, readiness answers 503" dir=` + dir
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log:\n%s\nwant a line with\n%s", logs.String(), want)
	}
	resp, err := http.Get("http://" + n.Addr() + "/v2/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readiness = %d, want 503", resp.StatusCode)
	}
}
