package kernels

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// DeviceKind is what a Device is.
type DeviceKind string

// Device kinds.
const (
	KindCPU DeviceKind = "cpu"
	KindGPU DeviceKind = "gpu"
)

// Device is a compute device of this machine with its latest readings.
// For the CPU only Kind, Index, Name and Threads are set; for a GPU the
// readings a GPUSource could not take are zero.
type Device struct {
	Kind DeviceKind `json:"kind"`
	// Index is the GPU's index (the CUDA device ordinal when
	// CUDA_VISIBLE_DEVICES is unset, NVML's order otherwise); 0 for the CPU.
	Index int    `json:"index"`
	Name  string `json:"name"`
	UUID  string `json:"uuid,omitempty"`
	// Threads is the logical CPUs the process may use (CPU only).
	Threads int `json:"threads,omitempty"`
	// MemoryTotal, MemoryFree and MemoryUsed are in bytes.
	MemoryTotal uint64 `json:"memory_total_bytes,omitempty"`
	MemoryFree  uint64 `json:"memory_free_bytes,omitempty"`
	MemoryUsed  uint64 `json:"memory_used_bytes,omitempty"`
	// Utilization is the fraction of the last sample period in which a
	// kernel ran, 0..1.
	Utilization float64 `json:"utilization_ratio,omitempty"`
	// TemperatureC is the GPU die temperature in °C.
	TemperatureC float64 `json:"temperature_celsius,omitempty"`
	// PowerW is the board's power draw in watts.
	PowerW float64 `json:"power_watts,omitempty"`
}

// String names the device as "cpu" or "cuda:<index>".
func (d Device) String() string {
	if d.Kind == KindCPU {
		return "cpu"
	}
	return fmt.Sprintf("cuda:%d", d.Index)
}

// GPUSource reads the machine's GPUs (kernels/nvml reads them from NVML).
type GPUSource interface {
	// GPUs returns every GPU with fresh readings, in index order.
	GPUs(ctx context.Context) ([]Device, error)
}

// Discover returns the CPU, then the GPUs src reports. A nil src, or one
// that fails, gives the CPU alone; the error says why there are no GPUs.
func Discover(ctx context.Context, src GPUSource) ([]Device, error) {
	devs := []Device{CPU()}
	if src == nil {
		return devs, nil
	}
	gpus, err := src.GPUs(ctx)
	if err != nil {
		return devs, fmt.Errorf("discover GPUs: %w", err)
	}
	return append(devs, gpus...), nil
}

// CPU describes the CPU: its model name (from /proc/cpuinfo when readable)
// and the logical CPUs the process may use.
func CPU() Device {
	return Device{Kind: KindCPU, Name: cpuModel(), Threads: runtime.GOMAXPROCS(0)}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
