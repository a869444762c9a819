package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"no command", nil, 2, nil, []string{"Usage: miner"}},
		{"version", []string{"version"}, 0, []string{"taominer dev"}, nil},
		{"serve help", []string{"serve", "--help"}, 0, []string{"--http-addr", "TAOMINER_HTTP_ADDR", "http_addr", "--models", "--onnxruntime-lib", "--max-body-bytes", "--config"}, nil},
		{"unknown command", []string{"mine"}, 2, nil, []string{`unknown command "mine"`}},
		{"bad flag value", []string{"serve", "--max-batch-size", "zero"}, 2, nil, []string{"max-batch-size"}},
		{"healthcheck help", []string{"healthcheck", "--help"}, 0, nil, []string{"Usage: miner healthcheck", "--url"}},
		{"missing library", []string{"serve", "--onnxruntime-lib", "/nonexistent/libonnxruntime.so.1", "--models", t.TempDir()}, 1, nil, []string{"onnxruntime library /nonexistent/libonnxruntime.so.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %s)", code, tt.code, errOut.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}
