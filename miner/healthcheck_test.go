package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"not ready"}`, http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v2/health/ready"
	ln.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		silent bool // stdout must be empty
	}{
		{"ready", []string{"--url", ready.URL + "/v2/health/ready"}, 0, "200 OK", "", false},
		{"ready quiet", []string{"--quiet", "--url", ready.URL + "/v2/health/ready"}, 0, "", "", true},
		{"not ready", []string{"--url", notReady.URL + "/v2/health/ready"}, 1, "", "503 Service Unavailable", false},
		{"wrong path", []string{"--url", ready.URL + "/nope"}, 1, "", "404", false},
		{"nothing listens", []string{"--url", closed}, 1, "", "connection refused", false},
		{"bad flag", []string{"--no-such-flag"}, 2, "", "no-such-flag", false},
		{"extra argument", []string{"http://x"}, 2, "", `unexpected argument "http://x"`, false},
		{"zero timeout", []string{"--timeout", "0s"}, 2, "", "--timeout must be positive", false},
		{"help", []string{"--help"}, 0, "", "Usage: miner healthcheck", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"healthcheck"}, tt.args...), &out, &errOut)
			if code != tt.code {
				t.Errorf("miner healthcheck %q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errOut.String())
			}
			if tt.silent && out.Len() > 0 {
				t.Errorf("miner healthcheck %q: stdout %q, want nothing", tt.args, out.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("miner healthcheck %q: stdout %q lacks %q", tt.args, out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("miner healthcheck %q: stderr %q lacks %q", tt.args, errOut.String(), tt.stderr)
			}
		})
	}
}
