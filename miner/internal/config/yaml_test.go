package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBadConfigFiles loads each testdata/*.bad.yaml and wants its error.
// Every fixture must be listed, so none is forgotten.
func TestBadConfigFiles(t *testing.T) {
	tests := map[string]string{
		"unknown-key.bad.yaml":           `line 2: unknown key "bogus"`,
		"flag-style-key.bad.yaml":        `line 1: unknown key "http-addr" (did you mean "http_addr"?)`,
		"typo-key.bad.yaml":              `line 1: unknown key "modles" (did you mean "models"?)`,
		"list-for-int.bad.yaml":          "line 1: max_batch_size: want a single value, got a list",
		"mapping-for-string.bad.yaml":    "line 1: http_addr: want a single value, got a mapping",
		"bad-int.bad.yaml":               `line 1: max_queue_size: invalid value "lots": want an integer`,
		"float-for-int.bad.yaml":         `line 1: max_batch_size: invalid value "16.0": want an integer`,
		"duration-without-unit.bad.yaml": `line 1: shutdown_timeout: invalid value "10": want a duration`,
		"bad-log-level.bad.yaml":         `line 1: log_level: invalid value "loud": want one of debug, info, warn, error`,
		"bad-log-format.bad.yaml":        `line 1: log_format: invalid value "xml": want one of text, json`,
		"zero-batch.bad.yaml":            "line 1: max_batch_size: must be at least 1, got 0",
		"negative-delay.bad.yaml":        "line 1: max_queue_delay: must be at least 0s, got -5ms",
		"empty-http-addr.bad.yaml":       "line 1: http_addr: must not be empty",
		"duplicate-key.bad.yaml":         `line 2: key "log_level" repeats line 1`,
		"null-int.bad.yaml":              "line 1: max_body_bytes: missing value",
		"not-a-mapping.bad.yaml":         "line 1: want a mapping of option keys, got a list",
		"two-documents.bad.yaml":         "want a single YAML document",
		"syntax.bad.yaml":                "yaml: line",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if _, ok := tests[filepath.Base(path)]; !ok {
			t.Errorf("%s has no expected error in TestBadConfigFiles", path)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			_, err := LoadServe([]string{"--config", path}, nil)
			if err == nil {
				t.Fatalf("LoadServe(--config %s) succeeded, want %q", path, want)
			}
			prefix := "load config: file " + path + ": "
			if got := err.Error(); !strings.HasPrefix(got, prefix) || !strings.Contains(got, want) {
				t.Errorf("error %q\nwant prefix %q and %q", got, prefix, want)
			}
		})
	}
}

func TestFullConfigFile(t *testing.T) {
	want := Serve{
		HTTPAddr:               "127.0.0.1:9000",
		GRPCAddr:               "127.0.0.1:9001",
		GRPCMaxMessageBytes:    8 << 20,
		GRPCMaxStreams:         16,
		ModelsDir:              "/srv/models",
		ModelControl:           "explicit",
		RepositoryPollInterval: 5 * time.Second,
		ONNXRuntimeLib:         "/usr/lib/libonnxruntime.so",
		IntraOpThreads:         4,
		MaxBatchSize:           32,
		MaxQueueDelay:          250 * time.Millisecond,
		MaxQueueSize:           64,
		DefaultTimeout:         250 * time.Millisecond,
		MaxBodyBytes:           1 << 20,
		MaxInflightBodyBytes:   256 << 20,
		BodyReadTimeout:        20 * time.Second,
		WriteTimeout:           15 * time.Second,
		IdleTimeout:            time.Minute,
		MaxConnections:         512,
		MaxConnectionsPerIP:    16,
		TrustedNetworks:        []string{"127.0.0.0/8", "10.0.0.0/8"},
		LogLevel:               "debug",
		LogFormat:              "json",
		ShutdownTimeout:        90 * time.Second,
		Redis:                  "redis://:pw@redis.example:6380/2",
		Role:                   "worker",
		RedisClaimIdle:         10 * time.Second,
		WalletPath:             "/srv/wallets",
		Wallet:                 "miner",
		Hotkey:                 "gpu0",
		AxonPort:               9091,
		Network:                "test",
		Netuid:                 7,
		ExternalIP:             "203.0.113.7",
		ExternalPort:           9191,
		CommitEndpoint:         "http://203.0.113.7:8000",
		MetagraphEvery:         100,
		MinValidatorStake:      1000.5,
		AllowHotkeys:           []string{"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"},
		DenyHotkeys:            []string{"5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"},
		AxonRateLimit:          2.5,
		AxonNonceStore:         5000,
		EpistulaWindow:         5 * time.Second,
		EpistulaReplayStore:    20000,
	}
	got, err := LoadServe([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LoadServe = %v, %v\nwant %v", got, err, want)
	}
	got, err = LoadFile("testdata/full.yaml", DefaultServe())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LoadFile = %v, %v\nwant %v", got, err, want)
	}
}

func TestParseServeYAML(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    func(*Serve)
		wantErr string
	}{
		{"empty", "", func(*Serve) {}, ""},
		{"comments only", "# nothing\n", func(*Serve) {}, ""},
		{"null document", "~\n", func(*Serve) {}, ""},
		{"keeps base", "max_batch_size: 8\n", func(s *Serve) { s.MaxBatchSize = 8 }, ""},
		{"quoted int", `max_batch_size: "8"`, func(s *Serve) { s.MaxBatchSize = 8 }, ""},
		{"null string is empty", "onnxruntime_lib:\n", func(s *Serve) { s.ONNXRuntimeLib = "" }, ""},
		{"not validated", "max_batch_size: 0\n", func(s *Serve) { s.MaxBatchSize = 0 }, ""},
		{"every bad key reported", "a: 1\nb: 2\n", nil, "line 1: unknown key \"a\"\nline 2: unknown key \"b\""},
		{"non-string key", "[a]: 1\n", nil, "line 1: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := DefaultServe()
			base.ONNXRuntimeLib = "base.so"
			got, err := ParseServeYAML([]byte(tt.text), base)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseServeYAML = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			want := base
			tt.want(&want)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("ParseServeYAML = %v, %v\nwant %v", got, err, want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := LoadFile("testdata/missing.yaml", DefaultServe()); err == nil || !strings.Contains(err.Error(), "load config: open testdata/missing.yaml") {
		t.Errorf("LoadFile(missing) = %v", err)
	}
	_, err := LoadFile("testdata/unknown-key.bad.yaml", DefaultServe())
	if want := `load config: file testdata/unknown-key.bad.yaml: line 2: unknown key "bogus"`; err == nil || err.Error() != want {
		t.Errorf("LoadFile(unknown key) = %v, want %s", err, want)
	}
}
