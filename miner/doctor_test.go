package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

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
	var r doctorReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if r.ONNXRuntime.Library == "" || !strings.HasPrefix(r.ONNXRuntime.Version, "1.") {
		t.Errorf("onnxruntime = %+v, want the library and its version", r.ONNXRuntime)
	}
	avail := map[string]providerCheck{}
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

// cpuKernels stands in for the CUDA kernels: the CPU kernels on fake devices.
type cpuKernels struct {
	devs []int
	err  error
	off  float32 // added to softmax outputs
}

func (c cpuKernels) Devices() ([]int, error) { return c.devs, c.err }
func (c cpuKernels) Normalize(_ int, pix []uint8, shape []int, p kernels.NormParams) ([]float32, []int, error) {
	return kernels.Normalize(pix, shape, p)
}
func (c cpuKernels) Softmax(_ int, x []float32, shape []int) ([]float32, error) {
	out, err := kernels.Softmax(x, shape)
	for i := range out {
		out[i] += c.off
	}
	return out, err
}
func (c cpuKernels) TopK(_ int, x []float32, shape []int, k int) ([]float32, []int, []int, error) {
	return kernels.TopK(x, shape, k)
}
func (c cpuKernels) L2Normalize(_ int, x []float32, shape []int, eps float32) ([]float32, error) {
	return kernels.L2Normalize(x, shape, eps)
}

// TestDoctorKernelSelftest checks the CUDA-kernel rows of --selftest with the
// CPU kernels standing in for the GPU (no GPU here): one row per kernel and
// device, the tolerance stated, a wrong kernel failing, and the lines for a
// binary without the gpu tag and for a gpu build without a device.
func TestDoctorKernelSelftest(t *testing.T) {
	items := kernelSelftest(cpuKernels{devs: []int{0, 1}}, true)
	if len(items) != 10 {
		t.Fatalf("%d rows, want 5 kernels × 2 devices: %+v", len(items), items)
	}
	for _, it := range items {
		if !it.OK || it.Skipped || it.MaxAbs != 0 || it.Tolerance == "" || !strings.HasPrefix(it.Check, "cuda:") {
			t.Errorf("row %+v, want ok with max |diff| 0 and a tolerance", it)
		}
	}
	var sb strings.Builder
	printReport(&sb, &doctorReport{Selftest: items[:2]})
	if !strings.Contains(sb.String(), "ok   cuda:0: kernel normalize 2×37×53×3 vs cpu (max |diff| 0, tolerance exact)") {
		t.Errorf("text report:\n%s", sb.String())
	}

	bad := kernelSelftest(cpuKernels{devs: []int{0}, off: 1e-3}, true)
	var failed []string
	for _, it := range bad {
		if !it.OK {
			failed = append(failed, it.Check)
			if it.MaxAbs < 9e-4 || !strings.Contains(it.Detail, "outside the tolerance") {
				t.Errorf("failed row %+v, want max |diff| ≈ 1e-3 and a reason", it)
			}
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "softmax") {
		t.Errorf("failed rows %v, want the softmax row alone", failed)
	}

	for name, tc := range map[string]struct {
		g      kernels.GPUKernels
		built  bool
		ok     bool
		detail string
	}{
		"no gpu tag":       {nil, false, true, "not built"},
		"no device":        {cpuKernels{err: errors.New("no CUDA device: cuInit: CUDA_ERROR_NO_DEVICE (100)")}, true, true, "CUDA_ERROR_NO_DEVICE"},
		"zero devices":     {cpuKernels{}, true, true, "no CUDA device"},
		"tag, no provider": {nil, true, false, "no CUDA kernels registered"},
	} {
		items := kernelSelftest(tc.g, tc.built)
		if len(items) != 1 || items[0].OK != tc.ok || items[0].Skipped != tc.ok || !strings.Contains(items[0].Detail, tc.detail) {
			t.Errorf("%s: %+v, want one row ok=%v mentioning %q", name, items, tc.ok, tc.detail)
		}
	}
}
