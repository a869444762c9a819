package gpus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taominer/taominer/kernels"
)

// fakeSource stands in for NVML, which cannot run on this machine.
type fakeSource struct {
	gpus []kernels.Device
	err  error
}

func (f *fakeSource) GPUs(context.Context) ([]kernels.Device, error) { return f.gpus, f.err }

var a100 = kernels.Device{Kind: kernels.KindGPU, Index: 0, Name: "NVIDIA A100", UUID: "GPU-a",
	MemoryTotal: 40 << 30, MemoryFree: 30 << 30, MemoryUsed: 10 << 30, Utilization: 0.5, TemperatureC: 61, PowerW: 123.5}

func TestPollerMetrics(t *testing.T) {
	src := &fakeSource{gpus: []kernels.Device{a100}}
	var logs bytes.Buffer
	p := New(src, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	reg := prometheus.NewRegistry()
	reg.MustRegister(p)
	if n := testutil.CollectAndCount(p); n != 0 {
		t.Errorf("before the first poll: %d series, want 0", n)
	}
	p.Poll(context.Background())
	want := `
# HELP taominer_gpu_memory_total_bytes GPU memory in total, bytes (NVML).
# TYPE taominer_gpu_memory_total_bytes gauge
taominer_gpu_memory_total_bytes{gpu="0",name="NVIDIA A100",uuid="GPU-a"} 4.294967296e+10
# HELP taominer_gpu_memory_used_bytes GPU memory in use, bytes (NVML).
# TYPE taominer_gpu_memory_used_bytes gauge
taominer_gpu_memory_used_bytes{gpu="0",name="NVIDIA A100",uuid="GPU-a"} 1.073741824e+10
# HELP taominer_gpu_power_watts GPU board power draw, watts (NVML).
# TYPE taominer_gpu_power_watts gauge
taominer_gpu_power_watts{gpu="0",name="NVIDIA A100",uuid="GPU-a"} 123.5
# HELP taominer_gpu_temperature_celsius GPU die temperature, °C (NVML).
# TYPE taominer_gpu_temperature_celsius gauge
taominer_gpu_temperature_celsius{gpu="0",name="NVIDIA A100",uuid="GPU-a"} 61
# HELP taominer_gpu_utilization_ratio Fraction of the last sample period in which a GPU kernel ran, 0..1 (NVML).
# TYPE taominer_gpu_utilization_ratio gauge
taominer_gpu_utilization_ratio{gpu="0",name="NVIDIA A100",uuid="GPU-a"} 0.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if st := p.Stats(); len(st) != 1 || st[0].UUID != "GPU-a" || st[0].MemoryFreeBytes != 30<<30 || st[0].PowerWatts != 123.5 {
		t.Errorf("Stats = %+v", st)
	}

	// A failing read drops the readings and logs once per distinct error.
	src.err = errors.New("GPU is lost")
	p.Poll(context.Background())
	p.Poll(context.Background())
	if n := testutil.CollectAndCount(p); n != 0 || p.Stats() != nil {
		t.Errorf("after a failed poll: %d series, stats %v; want none", n, p.Stats())
	}
	if c := strings.Count(logs.String(), "GPU is lost"); c != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", c, logs.String())
	}
}

func TestPollerWithoutSource(t *testing.T) {
	p := New(nil, Options{})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.GPUs() != nil || testutil.CollectAndCount(p) != 0 {
		t.Error("a poller without a source reports GPUs")
	}
}

func TestPollerRun(t *testing.T) {
	p := New(&fakeSource{gpus: []kernels.Device{a100}}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for p.GPUs() == nil { // the first poll happens at once
		runtime.Gosched()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
