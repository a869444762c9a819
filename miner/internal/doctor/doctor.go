// Package doctor is `miner doctor`: it reports ONNX Runtime, the execution providers it can
// load, the GPUs NVML sees and whether the binary has the gpu build tag, and with --selftest
// runs a tiny inference on each usable device (and each CUDA kernel against its CPU twin) and
// compares the results.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/kernels/nvml"
	"github.com/taominer/taominer/miner/internal/cli"
	"github.com/taominer/taominer/models/onnx"
)

// Report is what `miner doctor` finds (its --json output).
type Report struct {
	ONNXRuntime struct {
		Library string `json:"library,omitempty"`
		Version string `json:"version,omitempty"`
		Error   string `json:"error,omitempty"`
	} `json:"onnxruntime"`
	Providers []ProviderCheck  `json:"providers"`
	GPUs      []kernels.Device `json:"gpus"`
	// NoGPUs says why GPUs is empty.
	NoGPUs string `json:"no_gpus,omitempty"`
	// GPUBuild reports whether the binary has the gpu tag (CUDA kernels).
	GPUBuild bool           `json:"gpu_build"`
	Selftest []SelftestItem `json:"selftest,omitempty"`
}

// ProviderCheck is whether one execution provider could open and run the
// built-in probe model.
type ProviderCheck struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Error     string `json:"error,omitempty"`
}

// SelftestItem is one --selftest comparison.
type SelftestItem struct {
	Check  string  `json:"check"`
	OK     bool    `json:"ok"`
	MaxAbs float64 `json:"max_abs_diff"`
	Detail string  `json:"detail,omitempty"`
	// Tolerance is the bound MaxAbs was checked against, when there is one.
	Tolerance string `json:"tolerance,omitempty"`
	// Skipped checks are not failures (e.g. CUDA kernels without the gpu tag).
	Skipped bool `json:"skipped,omitempty"`
}

// kernelSeed seeds the selftest's random kernel inputs, so every run and
// every GPU compares the same numbers.
const kernelSeed = 8

// kernelSelftest runs each CUDA kernel of g on every CUDA device against its
// CPU twin (kernels.SelfTest). Without the gpu tag (built false, g nil) it is
// one skipped line saying so; with it but no device, one skipped line saying
// why; a gpu build without registered kernels fails.
func kernelSelftest(g kernels.GPUKernels, built bool) []SelftestItem {
	const check = "CUDA kernels vs CPU kernels"
	switch {
	case !built && g == nil:
		return []SelftestItem{{Check: check, Skipped: true, OK: true,
			Detail: "not built: this binary has no gpu tag (make build-gpu)"}}
	case g == nil:
		return []SelftestItem{{Check: check, Detail: "gpu build, but no CUDA kernels registered (kernels/cuda not linked in)"}}
	}
	devs, err := g.Devices()
	if err == nil && len(devs) == 0 {
		err = errors.New("no CUDA device")
	}
	if err != nil {
		return []SelftestItem{{Check: check, Skipped: true, OK: true, Detail: err.Error()}}
	}
	var items []SelftestItem
	for _, dev := range devs {
		for _, c := range kernels.SelfTest(g, dev, kernelSeed) {
			it := SelftestItem{Check: fmt.Sprintf("cuda:%d: kernel %s vs cpu", dev, c.Kernel),
				OK: c.OK(), MaxAbs: c.MaxAbs, Tolerance: c.Tolerance.String()}
			switch {
			case c.Err != nil:
				it.Detail, it.MaxAbs = c.Err.Error(), 0 // JSON has no Inf
			case c.Bad > 0:
				it.Detail = fmt.Sprintf("%d values outside the tolerance", c.Bad)
				if math.IsInf(it.MaxAbs, 0) {
					it.MaxAbs = math.MaxFloat64
				}
			}
			items = append(items, it)
		}
	}
	return items
}

// Run is `miner doctor`: it reports the runtime, execution providers
// and GPUs of this machine and exits 0 when the CPU path works (with or
// without a GPU); 1 when ONNX Runtime cannot load or a selftest fails.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("miner doctor", stderr)
	lib := fs.String("onnxruntime-lib", os.Getenv("TAOMINER_ONNXRUNTIME_LIB"), "path of libonnxruntime.so; empty searches the usual places")
	selftest := fs.Bool("selftest", false, "run a tiny inference on each usable device and compare it with the CPU result")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: miner doctor [--selftest] [--json] [--onnxruntime-lib FILE]\n\nReports ONNX Runtime, the execution providers it can load, the GPUs NVML sees and whether this binary has the gpu build tag.")
		fs.PrintDefaults()
	}
	if code, ok := cli.ParseOrExit(fs, args); !ok {
		return code
	}
	r, ok := diagnose(ctx, *lib, *selftest)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "miner doctor:", err)
			return 1
		}
	} else {
		printReport(stdout, r)
	}
	if !ok {
		return 1
	}
	return 0
}

// diagnose builds the report; ok is false when the CPU path does not work
// or a selftest fails.
func diagnose(ctx context.Context, lib string, selftest bool) (*Report, bool) {
	r := &Report{GPUBuild: kernels.CUDA, GPUs: []kernels.Device{}}
	ok := true
	if src, err := nvml.Open(); err != nil {
		r.NoGPUs = err.Error()
	} else {
		devs, err := kernels.Discover(ctx, src)
		if err != nil {
			r.NoGPUs = err.Error()
		}
		r.GPUs = append(r.GPUs, devs[1:]...)
		if len(r.GPUs) == 0 && r.NoGPUs == "" {
			r.NoGPUs = "NVML reports no GPU"
		}
		_ = src.Close()
	}
	path, err := onnx.FindLibrary(lib)
	if err == nil {
		err = onnx.Init(path)
	}
	if err != nil {
		r.ONNXRuntime.Error = err.Error()
		return r, false
	}
	r.ONNXRuntime.Library, r.ONNXRuntime.Version = path, onnx.Version()
	outputs := map[string][]float32{}
	for _, p := range onnx.Providers {
		c := ProviderCheck{Name: p}
		out, err := onnx.Probe(ctx, p, 0, onnx.BindingAuto)
		var missing *onnx.ProviderLoadError
		switch {
		case errors.As(err, &missing):
			c.Error = missing.Error() // without the probe model's prefix
		case err != nil:
			c.Error = err.Error()
		default:
			c.Available, outputs[p] = true, out
		}
		r.Providers = append(r.Providers, c)
	}
	if outputs[onnx.ProviderCPU] == nil {
		ok = false
	}
	if !selftest {
		return r, ok
	}
	want := onnx.ProbeWant
	add := func(check string, got []float32, err error) {
		it := SelftestItem{Check: check}
		switch {
		case err != nil:
			it.Detail = err.Error()
		case len(got) != len(want):
			it.Detail = fmt.Sprintf("%d outputs, want %d", len(got), len(want))
		default:
			for i := range got {
				it.MaxAbs = math.Max(it.MaxAbs, math.Abs(float64(got[i])-float64(want[i])))
			}
			it.OK = it.MaxAbs <= 1e-5
			if !it.OK {
				it.Detail = fmt.Sprintf("got %v, want %v", got, want)
			}
		}
		ok = ok && it.OK
		r.Selftest = append(r.Selftest, it)
	}
	add("cpu: onnxruntime run vs expected", outputs[onnx.ProviderCPU], nil)
	got, err := onnx.Probe(ctx, onnx.ProviderCPU, 0, onnx.BindingIO)
	add("cpu: onnxruntime I/O binding vs expected", got, err)
	for _, p := range onnx.Providers[1:] {
		for _, g := range r.GPUs {
			if outputs[p] == nil {
				break // the provider does not load: reported above
			}
			got, err := onnx.Probe(ctx, p, g.Index, onnx.BindingAuto)
			add(fmt.Sprintf("%s: onnxruntime %s vs cpu", g, p), got, err)
		}
	}
	for _, it := range kernelSelftest(kernels.GPU(), kernels.CUDA) {
		ok = ok && it.OK
		r.Selftest = append(r.Selftest, it)
	}
	return r, ok
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintln(w, "ONNX Runtime")
	if r.ONNXRuntime.Error != "" {
		fmt.Fprintf(w, "  not loaded: %s\n", r.ONNXRuntime.Error)
	} else {
		fmt.Fprintf(w, "  library  %s\n  version  %s\n", r.ONNXRuntime.Library, r.ONNXRuntime.Version)
	}
	fmt.Fprintln(w, "Execution providers")
	for _, p := range r.Providers {
		if p.Available {
			fmt.Fprintf(w, "  %-9s available\n", p.Name)
		} else {
			fmt.Fprintf(w, "  %-9s not available: %s\n", p.Name, p.Error)
		}
	}
	fmt.Fprintln(w, "GPUs (NVML)")
	if len(r.GPUs) == 0 {
		fmt.Fprintf(w, "  none: %s\n", r.NoGPUs)
	}
	for _, g := range r.GPUs {
		fmt.Fprintf(w, "  %s  %s  %s  memory %.1f/%.1f GiB used, %.0f%% busy, %.0f °C, %.0f W\n", g, g.Name, g.UUID,
			float64(g.MemoryUsed)/(1<<30), float64(g.MemoryTotal)/(1<<30), 100*g.Utilization, g.TemperatureC, g.PowerW)
	}
	fmt.Fprintf(w, "Build\n  gpu tag  %v\n", r.GPUBuild)
	if len(r.Selftest) > 0 {
		fmt.Fprintln(w, "Selftest")
	}
	for _, s := range r.Selftest {
		status := "FAIL"
		switch {
		case s.Skipped:
			status = "SKIP"
		case s.OK:
			status = "ok"
		}
		fmt.Fprintf(w, "  %-4s %s", status, s.Check)
		if !s.Skipped && (s.OK || s.Tolerance != "") {
			fmt.Fprintf(w, " (max |diff| %g", s.MaxAbs)
			if s.Tolerance != "" {
				fmt.Fprintf(w, ", tolerance %s", s.Tolerance)
			}
			fmt.Fprint(w, ")")
		}
		if s.Detail != "" {
			fmt.Fprintf(w, ": %s", s.Detail)
		}
		fmt.Fprintln(w)
	}
}
