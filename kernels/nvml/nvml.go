// Package nvml reads the machine's NVIDIA GPUs through NVML
// (github.com/NVIDIA/go-nvml), which loads libnvidia-ml.so at run time: the
// binary links no CUDA or NVML library and builds and runs on machines
// without a GPU, where Open reports ErrUnavailable.
package nvml

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/taominer/taominer/kernels"
)

// ErrUnavailable is wrapped by Open's error when NVML cannot be
// initialised: no NVIDIA driver, no libnvidia-ml.so, or no permission.
var ErrUnavailable = errors.New("NVML unavailable")

// device is the part of an NVML device handle Source reads.
type device interface {
	GetName() (string, nvml.Return)
	GetUUID() (string, nvml.Return)
	GetMemoryInfo() (nvml.Memory, nvml.Return)
	GetUtilizationRates() (nvml.Utilization, nvml.Return)
	GetTemperature(nvml.TemperatureSensors) (uint32, nvml.Return)
	GetPowerUsage() (uint32, nvml.Return)
}

// library is the part of NVML Source uses, so tests can supply a fake
// (the real one cannot run on a machine without an NVIDIA driver).
type library interface {
	Init() nvml.Return
	Shutdown() nvml.Return
	DeviceGetCount() (int, nvml.Return)
	DeviceGetHandleByIndex(int) (device, nvml.Return)
}

// realLibrary adapts go-nvml's Interface to library.
type realLibrary struct{ nvml.Interface }

func (l realLibrary) DeviceGetHandleByIndex(i int) (device, nvml.Return) {
	return l.Interface.DeviceGetHandleByIndex(i)
}

// Source is a kernels.GPUSource over NVML. It is safe for concurrent use.
type Source struct {
	mu     sync.Mutex
	lib    library
	closed bool
}

var _ kernels.GPUSource = (*Source)(nil)

// Open loads and initialises NVML. Without it the error wraps
// ErrUnavailable and NVML's reason (ERROR_LIBRARY_NOT_FOUND on a machine
// without the NVIDIA driver).
func Open() (*Source, error) { return open(realLibrary{nvml.New()}) }

func open(lib library) (*Source, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: init: %v", ErrUnavailable, ret)
	}
	return &Source{lib: lib}, nil
}

// Close shuts NVML down.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %v", ret)
	}
	return nil
}

// GPUs reads every GPU: name, UUID, memory, utilisation, temperature and
// power. A reading the GPU does not support (NVML's ERROR_NOT_SUPPORTED,
// common for power and utilisation on some boards) is left zero; failing to
// count the GPUs or to get a handle is an error.
func (s *Source) GPUs(ctx context.Context) ([]kernels.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("nvml: source closed")
	}
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvml device count: %v", ret)
	}
	devs := make([]kernels.Device, 0, n)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, ret := s.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvml device %d: %v", i, ret)
		}
		devs = append(devs, read(i, h))
	}
	return devs, nil
}

// read takes one GPU's readings, leaving the failed ones zero.
func read(i int, h device) kernels.Device {
	d := kernels.Device{Kind: kernels.KindGPU, Index: i}
	if v, ret := h.GetName(); ret == nvml.SUCCESS {
		d.Name = v
	}
	if v, ret := h.GetUUID(); ret == nvml.SUCCESS {
		d.UUID = v
	}
	if m, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
		d.MemoryTotal, d.MemoryFree, d.MemoryUsed = m.Total, m.Free, m.Used
	}
	if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
		d.Utilization = float64(u.Gpu) / 100
	}
	if v, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		d.TemperatureC = float64(v)
	}
	if v, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
		d.PowerW = float64(v) / 1000 // milliwatts
	}
	return d
}
