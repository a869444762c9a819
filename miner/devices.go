package main

import (
	"context"
	"log/slog"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/kernels/nvml"
	"github.com/taominer/taominer/miner/internal/gpus"
)

// gpuPoller opens NVML and returns a poller of the GPUs it sees, NVML
// itself for fresh readings (placement; nil without NVML) and the function
// that shuts NVML down. Without NVML (no NVIDIA driver) the poller reports
// no GPUs, and one line says so.
func gpuPoller(ctx context.Context, log *slog.Logger) (*gpus.Poller, kernels.GPUSource, func()) {
	src, err := nvml.Open()
	if err != nil {
		log.Info("no GPU found: running on the CPU only", "reason", err)
		return gpus.New(nil, gpus.Options{}), nil, func() {}
	}
	p := gpus.New(src, gpus.Options{Logger: log})
	p.Poll(ctx)
	var names []string
	for _, d := range p.GPUs() {
		names = append(names, d.String()+" "+d.Name)
	}
	log.Info("GPUs found through NVML", "count", len(names), "gpus", names)
	return p, src, func() { _ = src.Close() }
}
