// Package gpus polls the machine's GPUs (through a kernels.GPUSource, NVML
// in the miner) and exports the latest readings as Prometheus gauges and
// /v1/stats rows.
package gpus

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/kernels"
)

// DefaultInterval is how often Run polls.
const DefaultInterval = 5 * time.Second

// Options configure a Poller.
type Options struct {
	// Interval between polls; DefaultInterval when zero.
	Interval time.Duration
	// Logger receives poll failures (once per change of error); nil
	// discards them.
	Logger *slog.Logger
}

// Poller keeps the latest readings of a GPU source. A Poller without a
// source reports no GPUs. It is a prometheus.Collector.
type Poller struct {
	src  kernels.GPUSource
	opts Options

	mu      sync.Mutex
	gpus    []kernels.Device
	lastErr string
}

// New returns a poller of src (nil: no GPUs).
func New(src kernels.GPUSource, opts Options) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Poller{src: src, opts: opts}
}

// Poll reads the source once. On failure the previous readings are dropped
// (a GPU that cannot be read is not reported as idle).
func (p *Poller) Poll(ctx context.Context) {
	if p.src == nil {
		return
	}
	gpus, err := p.src.GPUs(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != p.lastErr {
			p.opts.Logger.Warn("reading GPUs failed", "error", err)
			p.lastErr = msg
		}
		p.gpus = nil
		return
	}
	p.gpus, p.lastErr = gpus, ""
}

// Run polls at once and then every interval until ctx ends. Without a
// source it returns at once.
func (p *Poller) Run(ctx context.Context) error {
	if p.src == nil {
		return nil
	}
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// GPUs returns the latest readings (nil before the first poll or without
// GPUs).
func (p *Poller) GPUs() []kernels.Device {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gpus
}

// Stats converts the latest readings into /v1/stats rows.
func (p *Poller) Stats() []api.GPUStats {
	var out []api.GPUStats
	for _, d := range p.GPUs() {
		out = append(out, api.GPUStats{
			Index: d.Index, Name: d.Name, UUID: d.UUID,
			MemoryTotalBytes: d.MemoryTotal, MemoryFreeBytes: d.MemoryFree, MemoryUsedBytes: d.MemoryUsed,
			UtilizationRatio: d.Utilization, TemperatureCelsius: d.TemperatureC, PowerWatts: d.PowerW,
		})
	}
	return out
}

var (
	labels     = []string{"gpu", "name", "uuid"}
	descTotal  = prometheus.NewDesc("taominer_gpu_memory_total_bytes", "GPU memory in total, bytes (NVML).", labels, nil)
	descUsed   = prometheus.NewDesc("taominer_gpu_memory_used_bytes", "GPU memory in use, bytes (NVML).", labels, nil)
	descUtil   = prometheus.NewDesc("taominer_gpu_utilization_ratio", "Fraction of the last sample period in which a GPU kernel ran, 0..1 (NVML).", labels, nil)
	descTemp   = prometheus.NewDesc("taominer_gpu_temperature_celsius", "GPU die temperature, °C (NVML).", labels, nil)
	descPower  = prometheus.NewDesc("taominer_gpu_power_watts", "GPU board power draw, watts (NVML).", labels, nil)
	everyDescs = []*prometheus.Desc{descTotal, descUsed, descUtil, descTemp, descPower}
)

// Describe implements prometheus.Collector.
func (p *Poller) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range everyDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one series per GPU of the last
// poll.
func (p *Poller) Collect(ch chan<- prometheus.Metric) {
	for _, d := range p.GPUs() {
		lv := []string{strconv.Itoa(d.Index), d.Name, d.UUID}
		for _, m := range []struct {
			desc *prometheus.Desc
			v    float64
		}{
			{descTotal, float64(d.MemoryTotal)},
			{descUsed, float64(d.MemoryUsed)},
			{descUtil, d.Utilization},
			{descTemp, d.TemperatureC},
			{descPower, d.PowerW},
		} {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, m.v, lv...)
		}
	}
}
