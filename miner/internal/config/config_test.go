package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeEnv returns a getenv over the given key, value pairs.
func fakeEnv(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeFile writes text to a new file in a test directory and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "miner.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultServe(t *testing.T) {
	want := Serve{
		HTTPAddr:               ":8000",
		GRPCAddr:               ":8001",
		GRPCMaxMessageBytes:    64 << 20,
		GRPCMaxStreams:         64,
		ModelsDir:              "./model-repo",
		ModelControl:           "poll",
		RepositoryPollInterval: time.Second,
		IntraOpThreads:         1,
		MaxBatchSize:           16,
		MaxQueueSize:           1024,
		MaxBodyBytes:           64 << 20,
		BodyReadTimeout:        30 * time.Second,
		WriteTimeout:           30 * time.Second,
		IdleTimeout:            2 * time.Minute,
		MaxConnections:         1024,
		MaxConnectionsPerIP:    64,
		LogLevel:               "info",
		LogFormat:              "text",
		ShutdownTimeout:        10 * time.Second,
		Role:                   "all",
		RedisClaimIdle:         5 * time.Second,
		WalletPath:             "~/.bittensor/wallets",
		Hotkey:                 "default",
		AxonPort:               8091,
		Netuid:                 -1,
		AxonRateLimit:          20,
		AxonNonceStore:         100000,
		EpistulaWindow:         8 * time.Second,
		EpistulaReplayStore:    100000,
	}
	if got := DefaultServe(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultServe() = %v, want %v", got, want)
	}
	if err := DefaultServe().Validate(); err != nil {
		t.Errorf("DefaultServe().Validate() = %v", err)
	}
	got, err := LoadServe(nil, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LoadServe(nil, nil) = %v, %v; want defaults", got, err)
	}
}

// TestServeNaming keeps the rule that --flag-name, TAOMINER_FLAG_NAME and
// flag_name are twins.
func TestServeNaming(t *testing.T) {
	for _, o := range serveOptions.opts {
		if o.env != "TAOMINER_"+strings.ToUpper(o.yaml) || o.flag != strings.ReplaceAll(o.yaml, "_", "-") {
			t.Errorf("option %s: flag %q and env %q are not twins of the yaml key", o.yaml, o.flag, o.env)
		}
	}
}

func TestServePrecedence(t *testing.T) {
	file := writeFile(t, "http_addr: file:1\nmax_body_bytes: 100\nmax_queue_delay: 1ms\nlog_level: debug\n")
	tests := []struct {
		name string
		args []string
		env  []string
		want func(*Serve)
	}{
		{"defaults", nil, nil, func(*Serve) {}},
		{"file", []string{"--config", file}, nil, func(s *Serve) {
			s.HTTPAddr, s.MaxBodyBytes, s.MaxQueueDelay, s.LogLevel = "file:1", 100, time.Millisecond, "debug"
		}},
		{"file from env", nil, []string{"TAOMINER_CONFIG", file}, func(s *Serve) {
			s.HTTPAddr, s.MaxBodyBytes, s.MaxQueueDelay, s.LogLevel = "file:1", 100, time.Millisecond, "debug"
		}},
		{"env over file", []string{"--config", file}, []string{"TAOMINER_HTTP_ADDR", "env:2", "TAOMINER_MAX_QUEUE_DELAY", "2s"}, func(s *Serve) {
			s.HTTPAddr, s.MaxBodyBytes, s.MaxQueueDelay, s.LogLevel = "env:2", 100, 2*time.Second, "debug"
		}},
		{"flag over env over file", []string{"--config", file, "--http-addr=flag:3", "--log-level", "error"},
			[]string{"TAOMINER_HTTP_ADDR", "env:2", "TAOMINER_LOG_LEVEL", "warn", "TAOMINER_MAX_BODY_BYTES", "200"}, func(s *Serve) {
				s.HTTPAddr, s.MaxBodyBytes, s.MaxQueueDelay, s.LogLevel = "flag:3", 200, time.Millisecond, "error"
			}},
		{"empty --config disables TAOMINER_CONFIG", []string{"--config="}, []string{"TAOMINER_CONFIG", file}, func(*Serve) {}},
		{"empty TAOMINER_CONFIG means no file", nil, []string{"TAOMINER_CONFIG", ""}, func(*Serve) {}},
		{"env may set an empty string", nil, []string{"TAOMINER_ONNXRUNTIME_LIB", ""}, func(*Serve) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := DefaultServe()
			tt.want(&want)
			got, err := LoadServe(tt.args, fakeEnv(tt.env...))
			if err != nil {
				t.Fatalf("LoadServe: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LoadServe\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestServeRoundTrip sets every option to its default through each source,
// so a new option whose default does not parse back fails here.
func TestServeRoundTrip(t *testing.T) {
	for _, o := range serveOptions.opts {
		text := o.format(o.def)
		t.Run(o.yaml, func(t *testing.T) {
			for _, src := range []struct {
				name string
				args []string
				env  []string
			}{
				{"flag", []string{"--" + o.flag + "=" + text}, nil},
				{"env", nil, []string{o.env, text}},
				{"file", []string{"--config", writeFile(t, o.yaml+": "+o.quoted(o.def)+"\n")}, nil},
			} {
				got, err := LoadServe(src.args, fakeEnv(src.env...))
				if err != nil || !reflect.DeepEqual(got, DefaultServe()) {
					t.Errorf("%s: LoadServe = %v, %v; want defaults", src.name, got, err)
				}
			}
		})
	}
}

func TestLoadServeErrors(t *testing.T) {
	unknown := writeFile(t, "http_addr: \":1\"\nbogus: 1\n")
	badLevel := writeFile(t, "log_level: loud\n")
	tests := []struct {
		name string
		args []string
		env  []string
		want []string // substrings of the error
	}{
		{"extra argument", []string{"extra"}, nil, []string{`unexpected argument "extra"`}},
		{"bad flag int", []string{"--max-batch-size", "x"}, nil, []string{`invalid value "x" for flag -max-batch-size: want an integer`}},
		{"bad flag duration", []string{"--shutdown-timeout=10"}, nil, []string{"-shutdown-timeout", "want a duration"}},
		{"bad flag log level", []string{"--log-level=loud"}, nil, []string{`flag --log-level: invalid value "loud": want one of debug, info, warn, error`}},
		{"empty flag addr", []string{"--http-addr="}, nil, []string{"flag --http-addr: must not be empty"}},
		{"bad env int", nil, []string{"TAOMINER_MAX_BODY_BYTES", "abc"}, []string{`env TAOMINER_MAX_BODY_BYTES: invalid value "abc": want an integer`}},
		{"env int out of range", nil, []string{"TAOMINER_MAX_BODY_BYTES", "99999999999999999999"}, []string{"env TAOMINER_MAX_BODY_BYTES", "out of range"}},
		{"env int with spaces", nil, []string{"TAOMINER_MAX_QUEUE_SIZE", " 5"}, []string{"env TAOMINER_MAX_QUEUE_SIZE"}},
		{"empty env int", nil, []string{"TAOMINER_MAX_QUEUE_SIZE", ""}, []string{`env TAOMINER_MAX_QUEUE_SIZE: invalid value "": want an integer`}},
		{"bad env duration", nil, []string{"TAOMINER_MAX_QUEUE_DELAY", "5"}, []string{`env TAOMINER_MAX_QUEUE_DELAY: invalid value "5": want a duration`}},
		{"bad env log format", nil, []string{"TAOMINER_LOG_FORMAT", "xml"}, []string{`env TAOMINER_LOG_FORMAT: invalid value "xml": want one of text, json`}},
		{"zero env batch", nil, []string{"TAOMINER_MAX_BATCH_SIZE", "0"}, []string{"env TAOMINER_MAX_BATCH_SIZE: must be at least 1, got 0"}},
		{"every env error", nil, []string{"TAOMINER_MAX_BATCH_SIZE", "a", "TAOMINER_SHUTDOWN_TIMEOUT", "b"}, []string{"TAOMINER_MAX_BATCH_SIZE", "TAOMINER_SHUTDOWN_TIMEOUT"}},
		{"unknown yaml key", []string{"--config", unknown}, nil, []string{"file " + unknown + `: line 2: unknown key "bogus"`}},
		{"bad log level in file", []string{"--config", badLevel}, nil, []string{"file " + badLevel + `: line 1: log_level: invalid value "loud"`}},
		{"missing file from flag", []string{"--config", "/nonexistent/miner.yaml"}, nil, []string{"config file from flag --config", "/nonexistent/miner.yaml"}},
		{"missing file from env", nil, []string{"TAOMINER_CONFIG", "/nonexistent/miner.yaml"}, []string{"config file from env TAOMINER_CONFIG", "/nonexistent/miner.yaml"}},
		{"file and env errors together", []string{"--config", unknown}, []string{"TAOMINER_MAX_BATCH_SIZE", "x"}, []string{`unknown key "bogus"`, "env TAOMINER_MAX_BATCH_SIZE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadServe(tt.args, fakeEnv(tt.env...))
			if err == nil {
				t.Fatal("LoadServe succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "load config: ") {
				t.Errorf("error %q does not start with %q", err, "load config: ")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadServeHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		t.Run(arg, func(t *testing.T) {
			if _, err := LoadServe([]string{"--models", "m", arg}, nil); !errors.Is(err, flag.ErrHelp) {
				t.Errorf("LoadServe(%s) = %v, want flag.ErrHelp", arg, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	s := DefaultServe()
	s.HTTPAddr = ""
	s.IntraOpThreads = 0
	s.MaxBatchSize = -1
	s.MaxQueueSize = 0
	s.MaxBodyBytes = 0
	s.MaxQueueDelay = -time.Second
	s.LogLevel = "loud"
	s.LogFormat = "xml"
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate succeeded, want errors")
	}
	for _, want := range []string{
		"http_addr: must not be empty",
		"intra_op_threads: must be at least 1, got 0",
		"max_batch_size: must be at least 1, got -1",
		"max_queue_size: must be at least 1, got 0",
		"max_body_bytes: must be at least 1, got 0",
		"max_queue_delay: must be at least 0s, got -1s",
		`log_level: invalid value "loud"`,
		`log_format: invalid value "xml"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not contain %q", err, want)
		}
	}
}

func TestServeString(t *testing.T) {
	s := DefaultServe()
	s.ModelsDir = "my models"
	got := s.String()
	for _, want := range []string{`http_addr=":8000"`, `models="my models"`, "max_batch_size=16", "max_queue_delay=0s", `log_level="info"`} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %s, missing %s", got, want)
		}
	}
	if n := strings.Count(got, "="); n != len(serveOptions.opts) {
		t.Errorf("String() has %d pairs, want %d", n, len(serveOptions.opts))
	}
}

// TestLimitChecks: options that depend on each other, and the trusted
// networks' syntax, are checked with messages naming both spellings.
func TestLimitChecks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-inflight-body-bytes", "1000"}, "max_inflight_body_bytes (--max-inflight-body-bytes) is 1000, below max_body_bytes (--max-body-bytes) 67108864"},
		{[]string{"--trusted-network", "10.0.0.0/33"}, `trusted_network (--trusted-network): "10.0.0.0/33" is neither a network`},
		{[]string{"--commit-endpoint", "203.0.113.7:8000"}, `commit_endpoint (--commit-endpoint): "203.0.113.7:8000" is not an http:// or https:// URL with a host`},
		{[]string{"--commit-endpoint", "ftp://203.0.113.7/"}, `commit_endpoint (--commit-endpoint): "ftp://203.0.113.7/" is not an http:// or https:// URL`},
		{[]string{"--trusted-network", "10.0.0.0/8,192.0.2.1,::1", "--max-inflight-body-bytes", "67108864"}, ""},
	} {
		s, err := LoadServe(tc.args, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		case tc.want != "" && s.Validate() == nil && err == nil:
			t.Errorf("%v: Validate accepts it", tc.args)
		}
	}
}
