package nvml

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/kernels"
)

// NVML cannot run on the development and CI machines (no NVIDIA driver), so
// these tests drive Source through a hand-written fake of the library.

type fakeDevice struct {
	name, uuid string
	mem        nvml.Memory
	util       uint32
	temp       uint32
	powerMW    uint32
	noPower    bool
}

func (d fakeDevice) GetName() (string, nvml.Return)            { return d.name, nvml.SUCCESS }
func (d fakeDevice) GetUUID() (string, nvml.Return)            { return d.uuid, nvml.SUCCESS }
func (d fakeDevice) GetMemoryInfo() (nvml.Memory, nvml.Return) { return d.mem, nvml.SUCCESS }
func (d fakeDevice) GetUtilizationRates() (nvml.Utilization, nvml.Return) {
	return nvml.Utilization{Gpu: d.util}, nvml.SUCCESS
}
func (d fakeDevice) GetTemperature(nvml.TemperatureSensors) (uint32, nvml.Return) {
	return d.temp, nvml.SUCCESS
}
func (d fakeDevice) GetPowerUsage() (uint32, nvml.Return) {
	if d.noPower {
		return 0, nvml.ERROR_NOT_SUPPORTED
	}
	return d.powerMW, nvml.SUCCESS
}

type fakeLibrary struct {
	init     nvml.Return
	devices  []fakeDevice
	shutdown int
}

func (l *fakeLibrary) Init() nvml.Return                  { return l.init }
func (l *fakeLibrary) Shutdown() nvml.Return              { l.shutdown++; return nvml.SUCCESS }
func (l *fakeLibrary) DeviceGetCount() (int, nvml.Return) { return len(l.devices), nvml.SUCCESS }
func (l *fakeLibrary) DeviceGetHandleByIndex(i int) (device, nvml.Return) {
	if i >= len(l.devices) {
		return nil, nvml.ERROR_INVALID_ARGUMENT
	}
	return l.devices[i], nvml.SUCCESS
}

func TestSourceGPUs(t *testing.T) {
	lib := &fakeLibrary{devices: []fakeDevice{
		{name: "NVIDIA A100", uuid: "GPU-a", mem: nvml.Memory{Total: 40 << 30, Free: 30 << 30, Used: 10 << 30}, util: 57, temp: 61, powerMW: 123456},
		{name: "NVIDIA T4", uuid: "GPU-b", mem: nvml.Memory{Total: 16 << 30, Free: 16 << 30}, temp: 40, noPower: true},
	}}
	s, err := open(lib)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GPUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []kernels.Device{
		{Kind: kernels.KindGPU, Index: 0, Name: "NVIDIA A100", UUID: "GPU-a", MemoryTotal: 40 << 30, MemoryFree: 30 << 30, MemoryUsed: 10 << 30,
			Utilization: 0.57, TemperatureC: 61, PowerW: 123.456},
		{Kind: kernels.KindGPU, Index: 1, Name: "NVIDIA T4", UUID: "GPU-b", MemoryTotal: 16 << 30, MemoryFree: 16 << 30, TemperatureC: 40},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GPUs differ (-want +got):\n%s", diff)
	}
	if err := s.Close(); err != nil || s.Close() != nil || lib.shutdown != 1 {
		t.Errorf("Close: %v, shutdowns %d, want one", err, lib.shutdown)
	}
	if _, err := s.GPUs(context.Background()); err == nil {
		t.Error("GPUs after Close: want an error")
	}
}

func TestOpenUnavailable(t *testing.T) {
	_, err := open(&fakeLibrary{init: nvml.ERROR_LIBRARY_NOT_FOUND})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "ERROR_LIBRARY_NOT_FOUND") {
		t.Errorf("open: %v, want ErrUnavailable with NVML's reason", err)
	}
}

// TestOpenReal runs the real NVML: on a machine without an NVIDIA driver
// (this one) it must fail cleanly with ErrUnavailable; with one it lists
// the GPUs.
func TestOpenReal(t *testing.T) {
	s, err := Open()
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Open: %v, want ErrUnavailable", err)
		}
		t.Logf("no NVML here: %v", err)
		return
	}
	defer s.Close()
	gpus, err := s.GPUs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GPUs: %+v", gpus)
}
