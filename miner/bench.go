package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/taominer/taominer/miner/internal/config"
	"github.com/taominer/taominer/miner/internal/loadgen"
)

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, n := range *l {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// protocolList is a comma-separated list of body encodings.
type protocolList []string

func (l *protocolList) String() string { return strings.Join(*l, ",") }

func (l *protocolList) Set(v string) error {
	var out protocolList
	for _, f := range strings.Split(v, ",") {
		p := strings.TrimSpace(f)
		if p != loadgen.ProtocolJSON && p != loadgen.ProtocolBinary && p != loadgen.ProtocolGRPC {
			return fmt.Errorf("%q: want json, binary, grpc or a list such as binary,grpc", p)
		}
		out = append(out, p)
	}
	*l = out
	return nil
}

// percent is a fraction written as a percentage: "10%" or "10".
type percent float64

func (p *percent) String() string { return strconv.FormatFloat(float64(*p)*100, 'g', -1, 64) + "%" }

func (p *percent) Set(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || f <= 0 {
		return fmt.Errorf("%q: want a positive percentage such as 10%%", v)
	}
	*p = percent(f / 100)
	return nil
}

// parseBench parses the `miner bench` arguments into load generator options.
// Errors name the flag.
func parseBench(args []string) (*loadgen.Options, bool, *flag.FlagSet, error) {
	conc := intList{1, 2, 4, 8, 16}
	rawBatch := intList{1, 2, 4, 8, 16}
	protocols := protocolList{loadgen.ProtocolBinary}
	stability := percent(0.10)
	shapes := loadgen.Shapes{}
	var o loadgen.Options
	var raw loadgen.RawOptions
	var doRaw, jsonOut bool

	fs := flag.NewFlagSet("miner bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8000", "base `URL` of the KServe v2 server")
	fs.StringVar(&o.Model, "model", "", "served model `NAME` to measure")
	fs.StringVar(&o.Version, "version", "", "model `VERSION` (default: the server's choice)")
	fs.Var(&conc, "concurrency", "comma-separated `LIST` of concurrency levels (requests kept outstanding)")
	fs.Var(&protocols, "protocol", "`LIST` of protocols: json, binary (the binary tensor extension), grpc (KServe gRPC ModelInfer), e.g. binary,grpc")
	fs.StringVar(&o.GRPCAddr, "grpc-addr", "", "`HOST:PORT` of the gRPC port for --protocol grpc (default: --url's host, port 8001)")
	fs.DurationVar(&o.Measure.Window, "window", 2*time.Second, "`DURATION` of one measurement window")
	fs.Var(&stability, "stability", "`PERCENT` by which the last 3 windows may differ in infer/s and latency")
	fs.IntVar(&o.Measure.MaxTrials, "max-trials", 10, "give up on stability after `N` windows per measurement")
	fs.IntVar(&o.Measure.Percentile, "percentile", 0, "judge latency stability on percentile `P` instead of the average (perf_analyzer's --percentile)")
	fs.IntVar(&o.Batch, "batch", 1, "`N` items per request, along the batch axis")
	fs.Var(shapes, "shape", "fix an input's variable dimensions, `NAME:D1,D2,...` without the batch axis (repeatable)")
	fs.Uint64Var(&o.Seed, "seed", 1, "`SEED` of the random inputs")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON document instead of tables")
	fs.BoolVar(&doRaw, "raw", false, "measure the in-process ONNX Runtime limit of --model-file first")
	fs.StringVar(&raw.ModelFile, "model-file", "", "ONNX `FILE` for --raw (the file the server loaded for --model)")
	fs.StringVar(&raw.Library, "onnxruntime-lib", os.Getenv("TAOMINER_ONNXRUNTIME_LIB"), "libonnxruntime.so `FILE` for --raw (default $TAOMINER_ONNXRUNTIME_LIB); empty searches as the miner does")
	fs.IntVar(&raw.IntraOpThreads, "intra-op-threads", 1, "`N` ONNX Runtime intra-op threads for --raw (match the miner's)")
	fs.Var(&rawBatch, "raw-batch", "comma-separated `LIST` of batch sizes for --raw")

	if err := fs.Parse(args); err != nil {
		return nil, false, fs, config.FlagError(fs, "miner bench", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return nil, false, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !doRaw && o.Model == "":
		return nil, false, fs, errors.New("--model is required (or --raw --model-file FILE for the raw limit alone)")
	case doRaw && raw.ModelFile == "":
		return nil, false, fs, errors.New("--raw needs --model-file FILE")
	case !doRaw && (set["model-file"] || set["raw-batch"] || set["onnxruntime-lib"] || set["intra-op-threads"]):
		return nil, false, fs, errors.New("--model-file, --raw-batch, --onnxruntime-lib and --intra-op-threads only apply with --raw")
	case o.Measure.Window <= 0:
		return nil, false, fs, fmt.Errorf("--window %v: must be positive", o.Measure.Window)
	case o.Measure.MaxTrials < 1:
		return nil, false, fs, fmt.Errorf("--max-trials %d: must be at least 1", o.Measure.MaxTrials)
	case o.Measure.Percentile < 0 || o.Measure.Percentile > 100:
		return nil, false, fs, fmt.Errorf("--percentile %d: must be within 0..100", o.Measure.Percentile)
	case o.Batch < 1:
		return nil, false, fs, fmt.Errorf("--batch %d: must be at least 1", o.Batch)
	case raw.IntraOpThreads < 1:
		return nil, false, fs, fmt.Errorf("--intra-op-threads %d: must be at least 1", raw.IntraOpThreads)
	}
	o.Concurrency = conc
	o.Protocols = protocols
	if o.GRPCAddr == "" {
		u, err := url.Parse(o.URL)
		if err != nil || u.Hostname() == "" {
			return nil, false, fs, fmt.Errorf("--url %q: not a URL such as http://127.0.0.1:8000", o.URL)
		}
		o.GRPCAddr = net.JoinHostPort(u.Hostname(), "8001")
	}
	o.Measure.Stability = float64(stability)
	o.Shapes = shapes
	if doRaw {
		raw.Batches = rawBatch
		o.Raw = &raw
	}
	return &o, jsonOut, fs, nil
}

func benchUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: miner bench --model NAME [options]
       miner bench --raw --model-file FILE [--model NAME] [options]

Measures a KServe v2 server as Triton's perf_analyzer does: a concurrency
sweep of closed-loop requests with random inputs shaped from the model's
metadata, fixed-length windows repeated until the last 3 agree within
--stability (or --max-trials), and a table of infer/s and p50/p90/p95/p99
latency per protocol and concurrency. With --raw the model file is first run
in process with the miner's session options; each served row then shows its
ratio to that limit. Progress goes to stderr, results to stdout. The exit
code is 1 if any request failed.

Options:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// bench runs `miner bench` with its arguments and returns the exit code:
// 0 when every request succeeded, 1 when the run or a request failed, 2 for
// a bad command line.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, jsonOut, fs, err := parseBench(args)
	if errors.Is(err, flag.ErrHelp) {
		benchUsage(stdout, fs)
		return 0
	}
	var unknown *config.UnknownFlagError
	if errors.As(err, &unknown) {
		fmt.Fprintln(stderr, "miner bench:", err) // it says where the options are
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "miner bench: %v\nRun miner bench --help for the options.\n", err)
		return 2
	}
	o.Progress = loadgen.NewProgress(stderr, isTerminal(stderr))
	rep, runErr := loadgen.Run(ctx, *o)
	if rep != nil {
		write := loadgen.WriteTable
		if jsonOut {
			write = loadgen.WriteJSON
		}
		if err := write(stdout, rep); err != nil {
			fmt.Fprintln(stderr, "miner bench:", err)
			return 1
		}
	}
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintln(stderr, "miner bench: interrupted")
		return 1
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "miner bench:", runErr)
		return 1
	}
	if n := rep.Errors(); n > 0 {
		fmt.Fprintf(stderr, "miner bench: %d requests failed\n", n)
		return 1
	}
	return 0
}
