package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/taominer/taominer/miner/internal/doctor"

	"github.com/taominer/taominer/kernels"
)

// TestDoctor runs `miner doctor` on this machine: no GPU, no NVML, and a
// CPU-only ONNX Runtime. It must exit 0, find the CPU provider, report cuda
// and tensorrt unavailable with ONNX Runtime's reason, and pass the CPU
// selftest.
func TestDoctor(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--selftest", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d, want 0\nstdout %s\nstderr %s", code, out.String(), errOut.String())
	}
	var r doctor.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if r.ONNXRuntime.Library == "" || !strings.HasPrefix(r.ONNXRuntime.Version, "1.") {
		t.Errorf("onnxruntime = %+v, want the library and its version", r.ONNXRuntime)
	}
	avail := map[string]doctor.ProviderCheck{}
	for _, p := range r.Providers {
		avail[p.Name] = p
	}
	if !avail["cpu"].Available {
		t.Errorf("cpu provider = %+v, want available", avail["cpu"])
	}
	for _, p := range []string{"cuda", "tensorrt"} {
		want := "execution_provider " + p + ": the ONNX Runtime library " + r.ONNXRuntime.Library + " has no "
		if c := avail[p]; c.Available || !strings.HasPrefix(c.Error, want) || !strings.Contains(c.Error, "use the GPU build of ONNX Runtime") ||
			!strings.Contains(c.Error, "execution_provider: cpu") {
			t.Errorf("%s provider = %+v, want unavailable saying %q and what to use instead", p, c, want)
		}
	}
	if len(r.GPUs) != 0 || !strings.Contains(r.NoGPUs, "NVML unavailable") {
		t.Errorf("gpus = %v (%q), want none because NVML is missing", r.GPUs, r.NoGPUs)
	}
	if r.GPUBuild != kernels.CUDA {
		t.Errorf("gpu_build = %v, want %v", r.GPUBuild, kernels.CUDA)
	}
	if len(r.Selftest) < 3 {
		t.Fatalf("selftest = %+v, want the CPU checks and the kernel line", r.Selftest)
	}
	for _, s := range r.Selftest {
		if !s.OK {
			t.Errorf("selftest %q failed: %s", s.Check, s.Detail)
		}
	}
	if last := r.Selftest[len(r.Selftest)-1]; !kernels.CUDA && (!last.Skipped || !strings.Contains(last.Detail, "not built")) {
		t.Errorf("kernel check = %+v, want skipped as not built", last)
	}

	out.Reset()
	if code := run([]string{"doctor"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "cpu       available") ||
		!strings.Contains(out.String(), "cuda      not available:") || !strings.Contains(out.String(), "gpu tag  "+map[bool]string{true: "true", false: "false"}[kernels.CUDA]) {
		t.Errorf("text report (exit %d):\n%s", code, out.String())
	}
}

func TestDoctorBadLibrary(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"doctor", "--onnxruntime-lib", "/nonexistent/libonnxruntime.so.1"}, &out, &errOut); code != 1 ||
		!strings.Contains(out.String(), "not loaded") {
		t.Errorf("exit %d, want 1 with the library error:\n%s", code, out.String())
	}
}
