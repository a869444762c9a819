package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/loadgen"
	"github.com/taominer/taominer/models/modeltest"
)

// TestBenchCommand runs `miner bench --raw` against a real miner serving the
// PaddleOCR classifier and checks its JSON report.
func TestBenchCommand(t *testing.T) {
	tn := startNode(t, standardRepo(t), withGRPC)
	var stdout, stderr bytes.Buffer
	args := []string{"--url", tn.url, "--grpc-addr", tn.n.GRPCAddr(), "--model", "ppocr_cls", "--protocol", "json,binary,grpc",
		"--raw", "--model-file", modeltest.PaddleOCRClsPath(t), "--raw-batch", "1,4",
		"--concurrency", "1,2", "--window", "200ms", "--max-trials", "3", "--json"}
	if code := bench(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("miner bench %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Raw == nil || len(rep.Raw.Rows) != 2 || rep.Raw.Limit <= 0 {
		t.Fatalf("raw part %+v, want batches 1 and 4 and a limit", rep.Raw)
	}
	var got []string
	for _, row := range rep.Rows {
		got = append(got, fmt.Sprintf("%s/%d", row.Protocol, row.Concurrency))
		switch {
		case row.InferPerSec <= 0 || row.Requests == 0:
			t.Errorf("%s/%d: %.1f infer/s from %d requests, want > 0", row.Protocol, row.Concurrency, row.InferPerSec, row.Requests)
		case row.Ratio == nil || *row.Ratio <= 0:
			t.Errorf("%s/%d: ratio %v, want a positive ratio to the raw limit", row.Protocol, row.Concurrency, row.Ratio)
		case row.Errors != 0:
			t.Errorf("%s/%d: %d errors (%v): %s", row.Protocol, row.Concurrency, row.Errors, row.ErrorsByStatus, row.FirstError)
		case row.AvgBatch < 1 || row.Latency.P50 <= 0 || row.Latency.P99 < row.Latency.P50:
			t.Errorf("%s/%d: avg batch %.2f, latency %+v; want server statistics and ordered percentiles", row.Protocol, row.Concurrency, row.AvgBatch, row.Latency)
		case row.Windows < 1 || row.Windows > 3:
			t.Errorf("%s/%d: %d windows, want 1..3 (--max-trials 3)", row.Protocol, row.Concurrency, row.Windows)
		}
	}
	if want := "json/1 json/2 binary/1 binary/2 grpc/1 grpc/2"; strings.Join(got, " ") != want {
		t.Errorf("rows %v, want %s", got, want)
	}
	// Progress goes to stderr, one line per window when it is not a terminal.
	for _, want := range []string{"raw batch=4  window 1/3", "binary c=2  window 1/3"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks progress %q:\n%s", want, stderr.String())
		}
	}
}

// TestBenchCommandFailures checks that failed requests are reported and
// make the exit code 1: the model takes at most 16 items per request.
func TestBenchCommandFailures(t *testing.T) {
	tn := startNode(t, standardRepo(t), withGRPC)
	var stdout, stderr bytes.Buffer
	args := []string{"--url", tn.url, "--grpc-addr", tn.n.GRPCAddr(), "--protocol", "binary,grpc", "--model", "ppocr_cls", "--batch", "17",
		"--concurrency", "1", "--window", "500ms", "--max-trials", "3"}
	if code := bench(context.Background(), args, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "requests failed") || !strings.Contains(stdout.String(), "errors at binary concurrency 1: 400 x") ||
		!strings.Contains(stdout.String(), "errors at grpc concurrency 1: InvalidArgument x") {
		t.Errorf("want the failures in the table and on stderr\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no model", nil, 2, "--model is required"},
		{"raw without a file", []string{"--raw"}, 2, "--raw needs --model-file"},
		{"raw flags without --raw", []string{"--model", "m", "--raw-batch", "2"}, 2, "only apply with --raw"},
		{"bad concurrency", []string{"--model", "m", "--concurrency", "1,0"}, 2, `invalid value "1,0" for flag -concurrency: "0" is not a positive integer`},
		{"bad protocol", []string{"--model", "m", "--protocol", "http2"}, 2, `invalid value "http2" for flag -protocol`},
		{"bad url for the grpc address", []string{"--model", "m", "--url", "::"}, 2, `--url "::": not a URL`},
		{"bad shape", []string{"--model", "m", "--shape", "x"}, 2, `invalid value "x" for flag -shape`},
		{"bad stability", []string{"--model", "m", "--stability", "-5%"}, 2, `invalid value "-5%" for flag -stability`},
		{"bad window", []string{"--model", "m", "--window", "0s"}, 2, "--window 0s: must be positive"},
		{"bad batch", []string{"--model", "m", "--batch", "0"}, 2, "--batch 0: must be at least 1"},
		{"bad max trials", []string{"--model", "m", "--max-trials", "0"}, 2, "--max-trials 0: must be at least 1"},
		{"unknown flag", []string{"--model", "m", "--nope"}, 2, "unknown flag --nope (miner bench --help lists them)"},
		{"stray argument", []string{"--model", "m", "extra"}, 2, `unexpected argument "extra"`},
		{"server down", []string{"--model", "m", "--url", "http://127.0.0.1:1"}, 1, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := bench(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("miner bench %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := bench(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Usage: miner bench", "-concurrency LIST", "-raw-batch LIST", "-shape NAME:D1,D2,..."} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}
