package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readyServer answers 200 on /v2/health/ready and 404 elsewhere.
func readyServer(t *testing.T) *httptest.Server {
	t.Helper()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ready.Close)
	return ready
}

func TestHealthcheck(t *testing.T) {
	ready := readyServer(t)
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

// TestHealthcheckFollowsHTTPAddr: without --url the check asks the address
// `miner serve` would listen on, from the environment or the config file, as
// a container's HEALTHCHECK does when TAOMINER_HTTP_ADDR moves the port.
func TestHealthcheckFollowsHTTPAddr(t *testing.T) {
	ready := readyServer(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(ready.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "miner.yaml")
	if err := os.WriteFile(file, []byte("http_addr: \"127.0.0.1:"+port+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		code   int
		stdout string
		stderr string
	}{
		{"env wildcard host", map[string]string{"TAOMINER_HTTP_ADDR": ":" + port}, 0, "http://127.0.0.1:" + port + "/v2/health/ready: 200 OK", ""},
		{"env loopback", map[string]string{"TAOMINER_HTTP_ADDR": "127.0.0.1:" + port}, 0, "200 OK", ""},
		{"config file", map[string]string{"TAOMINER_CONFIG": file}, 0, "http://127.0.0.1:" + port + "/", ""},
		{"env over file", map[string]string{"TAOMINER_CONFIG": file, "TAOMINER_HTTP_ADDR": "127.0.0.1:1"}, 1, "", "127.0.0.1:1"},
		{"no port", map[string]string{"TAOMINER_HTTP_ADDR": "localhost"}, 2, "", `http_addr "localhost"`},
		{"bad config", map[string]string{"TAOMINER_CONFIG": filepath.Join(t.TempDir(), "missing.yaml")}, 2, "", "missing.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			var out, errOut bytes.Buffer
			code := healthcheck(context.Background(), nil, getenv, &out, &errOut)
			if code != tt.code {
				t.Errorf("env %v: exit %d, want %d (stderr %q)", tt.env, code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("env %v: stdout %q lacks %q", tt.env, out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("env %v: stderr %q lacks %q", tt.env, errOut.String(), tt.stderr)
			}
		})
	}
}

func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8000":          "http://127.0.0.1:8000/v2/health/ready",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/v2/health/ready",
		"[::]:9000":      "http://127.0.0.1:9000/v2/health/ready",
		"10.1.2.3:8000":  "http://10.1.2.3:8000/v2/health/ready",
		"[::1]:8000":     "http://[::1]:8000/v2/health/ready",
		"localhost:8000": "http://localhost:8000/v2/health/ready",
	} {
		got, err := readyURL(addr)
		if err != nil || got != want {
			t.Errorf("readyURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := readyURL("8000"); err == nil {
		t.Error("readyURL(\"8000\"): no error")
	}
}
