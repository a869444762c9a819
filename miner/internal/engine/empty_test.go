package engine

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptyFolderWarns checks that a model folder with nothing to serve
// logs one warning naming the folder, what to put there and how it loads in
// each model control mode, and that the engine stays not ready.
func TestEmptyFolderWarns(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		mode  string
		then  string // "" when no warning is wanted
	}{
		{"empty, poll", nil, ControlPoll, "the miner loads it when it appears (--model-control poll)"},
		{"empty, explicit", nil, ControlExplicit, "then load it with POST /v2/repository/models/NAME/load (--model-control explicit)"},
		{"empty, none", nil, ControlNone, "then restart the miner (--model-control none loads models only at startup)"},
		{"only non-models", map[string]string{"README.txt": "x", "resnet/notes.md": "x", ".hidden.onnx": "ok 1"}, ControlPoll,
			"the miner loads it when it appears"},
		{"one model", map[string]string{"m.onnx": "ok 1"}, ControlPoll, ""},
		{"one broken model", map[string]string{"m.onnx": "broken"}, ControlPoll, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, text := range tt.files {
				writeFile(t, filepath.Join(dir, p), text)
			}
			var logs bytes.Buffer
			e := New(&fakeOpener{}, Options{Dir: dir, ModelControl: tt.mode, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			defer e.Close(context.Background())
			if err := e.LoadAll(t.Context()); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(logs.String(), "no models in the model folder")
			if tt.then == "" {
				if warned {
					t.Errorf("log = %q, want no empty-folder warning", logs.String())
				}
				return
			}
			if e.Ready() {
				t.Error("Ready() = true with no models, want false (readiness 503)")
			}
			for _, want := range []string{
				"level=WARN",
				"no models in the model folder " + dir + ": put NAME.onnx there (optional config NAME.yaml) or NAME/1/model.onnx (optional config NAME/config.yaml); ",
				tt.then,
				"until a model is ready, readiness answers 503",
				"dir=" + dir,
			} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log = %q, want %q", logs.String(), want)
				}
			}
			if n := strings.Count(logs.String(), "no models in the model folder"); n != 1 {
				t.Errorf("warned %d times, want once", n)
			}
		})
	}
}
