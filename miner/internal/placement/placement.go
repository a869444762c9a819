// Package placement decides where the instances of a model version run:
// on the device its config names, round-robin over a list of GPUs, or, for
// gpus: auto, one by one on the GPU with the most free memory, re-read after
// each instance has loaded so that the next one sees what the previous one
// took.
//
// The Placer does not open sessions itself: the caller passes an Open
// function, called once per instance in order, so the planner can be tested
// with fake memory readings and fake loads.
package placement

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/taominer/taominer/kernels"
	"github.com/taominer/taominer/models"
)

// DefaultMinFree is the free memory a GPU must have, in bytes, for gpus:
// auto to place an instance on it, unless Options or the model's
// gpu_min_free_mib say otherwise.
const DefaultMinFree = 256 << 20

// ErrNoFit is wrapped by the error of a gpus: auto placement that found no
// GPU with room for an instance (see NoFitError).
var ErrNoFit = errors.New("model does not fit on any GPU")

// ErrNoGPU is wrapped by the error of a gpus: auto placement on a machine
// without GPUs when the model's execution provider needs one.
var ErrNoGPU = errors.New("no GPU found")

// ErrOutOfMemory may be wrapped by an Open error to say the device ran out
// of memory; messages from ONNX Runtime and CUDA are recognised as well
// (see IsOutOfMemory).
var ErrOutOfMemory = errors.New("out of memory")

// Target is where one instance runs.
type Target struct {
	// Provider is the execution provider to open the session with: "cpu",
	// "cuda" or "tensorrt", or "" for the config's own (cpu by default).
	Provider string
	// DeviceID is the GPU (CUDA device ordinal) of a GPU provider.
	DeviceID int
}

// String names the target as "cpu", "cuda:1" or "tensorrt:0".
func (t Target) String() string {
	if t.Provider == "" || t.Provider == "cpu" {
		return "cpu"
	}
	return fmt.Sprintf("%s:%d", t.Provider, t.DeviceID)
}

// Open opens instance i (from 0) of the model on t, including whatever
// allocations the instance keeps (a warm-up run), so that a memory reading
// taken after it returns sees them. An error that IsOutOfMemory makes the
// placer try the next GPU; any other error ends the placement.
type Open func(ctx context.Context, i int, t Target) error

// Options configure a Placer.
type Options struct {
	// GPUs reads the GPUs with their free memory (NVML in the miner); nil
	// when the machine has none.
	GPUs kernels.GPUSource
	// MinFree is the free memory in bytes a GPU needs for gpus: auto to
	// place an instance on it; DefaultMinFree when zero.
	MinFree uint64
	// Logger receives one line per placed instance, and the one line that
	// says gpus: auto runs on the CPU for lack of a GPU.
	Logger *slog.Logger
}

// Placer places the instances of model versions. It is safe for
// concurrent use, but placements that run at once see each other's memory
// only as the readings do.
type Placer struct {
	opt     Options
	cpuOnce sync.Once
}

// New returns a Placer.
func New(opt Options) *Placer {
	if opt.MinFree == 0 {
		opt.MinFree = DefaultMinFree
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Placer{opt: opt}
}

// Place opens cfg.InstanceCount() instances through open and returns
// where each went. On error the instances already opened stay open: the
// caller closes them.
//
//   - Without gpus every instance goes to the config's execution_provider
//     and device_id.
//   - gpus: [a, b, …] sends instance i to GPU ids[i mod len] with the
//     config's GPU provider (cuda when none is set).
//   - gpus: auto sends each instance to the GPU with the most free memory
//     (ties: the lowest index), read afresh after the previous instance
//     loaded. A GPU with less than the minimum free, or on which the
//     instance runs out of memory, is skipped; when none is left the
//     placement fails with ErrNoFit. Without GPUs the instances run on the
//     CPU, unless execution_provider asks for cuda or tensorrt without
//     fallback: cpu (ErrNoGPU).
func (p *Placer) Place(ctx context.Context, name string, cfg models.Config, open Open) ([]Target, error) {
	n := cfg.InstanceCount()
	switch {
	case cfg.GPUs == nil:
		return p.fixed(ctx, n, open, func(int) Target {
			return Target{Provider: cfg.ExecutionProvider, DeviceID: cfg.DeviceID}
		})
	case !cfg.GPUs.Auto:
		if err := p.checkIDs(ctx, cfg.GPUs.IDs); err != nil {
			return nil, err
		}
		provider := gpuProvider(cfg)
		return p.fixed(ctx, n, open, func(i int) Target {
			return Target{Provider: provider, DeviceID: cfg.GPUs.IDs[i%len(cfg.GPUs.IDs)]}
		})
	}
	minFree := p.opt.MinFree
	if cfg.GPUMinFreeMiB > 0 {
		minFree = cfg.GPUMinFreeMiB << 20
	}
	gpus, err := p.read(ctx)
	if err == nil && len(gpus) == 0 {
		err = ErrNoGPU
	}
	if err != nil {
		if cfg.ExecutionProvider != "" && cfg.ExecutionProvider != "cpu" && cfg.Fallback != "cpu" {
			return nil, fmt.Errorf("gpus: auto with execution_provider %s: %w (set fallback: cpu to run on the CPU instead)",
				cfg.ExecutionProvider, err)
		}
		p.cpuOnce.Do(func() {
			p.opt.Logger.Info("gpus: auto finds no GPU: those models run on the CPU", "reason", err)
		})
		return p.fixed(ctx, n, open, func(int) Target { return Target{Provider: "cpu"} })
	}
	provider := gpuProvider(cfg)
	targets := make([]Target, 0, n)
	for i := range n {
		t, err := p.placeOne(ctx, i, gpus, minFree, provider, open)
		if err != nil {
			return targets, fmt.Errorf("instance %d of %d: %w", i+1, n, err)
		}
		targets = append(targets, t)
		// Measure after the load: the next instance sees what this one took.
		before := free(gpus, t.DeviceID)
		if gpus, err = p.read(ctx); err != nil {
			return targets, fmt.Errorf("read GPU memory after instance %d: %w", i+1, err)
		}
		p.opt.Logger.Info("model instance placed", "model", name, "instance", i, "device", t.String(),
			"free_before_mib", before>>20, "free_after_mib", free(gpus, t.DeviceID)>>20)
	}
	return targets, nil
}

// placeOne opens instance i on the GPU with the most free memory that
// takes it.
func (p *Placer) placeOne(ctx context.Context, i int, gpus []kernels.Device, minFree uint64, provider string, open Open) (Target, error) {
	order := slices.Clone(gpus)
	slices.SortStableFunc(order, func(a, b kernels.Device) int {
		return cmp.Or(cmp.Compare(b.MemoryFree, a.MemoryFree), cmp.Compare(a.Index, b.Index))
	})
	oom := map[int]error{}
	for _, g := range order {
		if g.MemoryFree < minFree {
			break // sorted: no later GPU has more
		}
		t := Target{Provider: provider, DeviceID: g.Index}
		err := open(ctx, i, t)
		if err == nil {
			return t, nil
		}
		if !IsOutOfMemory(err) {
			return Target{}, fmt.Errorf("open on %s: %w", t, err)
		}
		p.opt.Logger.Warn("model instance ran out of GPU memory; trying the next GPU", "instance", i, "device", t.String(), "err", err)
		oom[g.Index] = err
	}
	return Target{}, &NoFitError{GPUs: gpus, MinFree: minFree, OutOfMemory: oom}
}

// fixed opens the n instances on the targets at gives, in order.
func (p *Placer) fixed(ctx context.Context, n int, open Open, at func(i int) Target) ([]Target, error) {
	targets := make([]Target, 0, n)
	for i := range n {
		t := at(i)
		if err := open(ctx, i, t); err != nil {
			if n == 1 {
				return targets, err
			}
			return targets, fmt.Errorf("instance %d of %d on %s: %w", i+1, n, t, err)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// checkIDs refuses listed GPUs the source does not report. Without a
// source, or when it cannot be read, the provider finds out when it opens.
func (p *Placer) checkIDs(ctx context.Context, ids []int) error {
	gpus, err := p.read(ctx)
	if err != nil {
		return nil
	}
	for _, id := range ids {
		if !slices.ContainsFunc(gpus, func(d kernels.Device) bool { return d.Index == id }) {
			return fmt.Errorf("gpus: GPU %d not found; this machine has %s", id, describe(gpus))
		}
	}
	return nil
}

func (p *Placer) read(ctx context.Context) ([]kernels.Device, error) {
	if p.opt.GPUs == nil {
		return nil, ErrNoGPU
	}
	gpus, err := p.opt.GPUs.GPUs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read GPUs: %w", err)
	}
	return gpus, nil
}

// gpuProvider is the config's provider, cuda when it names none.
func gpuProvider(cfg models.Config) string {
	if cfg.ExecutionProvider == "" || cfg.ExecutionProvider == "cpu" {
		return "cuda"
	}
	return cfg.ExecutionProvider
}

func free(gpus []kernels.Device, index int) uint64 {
	for _, g := range gpus {
		if g.Index == index {
			return g.MemoryFree
		}
	}
	return 0
}

// NoFitError is the error of a gpus: auto placement that found no GPU for
// an instance. It wraps ErrNoFit.
type NoFitError struct {
	// GPUs are the readings the placement chose from.
	GPUs []kernels.Device
	// MinFree is the free memory, in bytes, a GPU needed.
	MinFree uint64
	// OutOfMemory holds, per GPU index, the error of an open that ran out
	// of memory.
	OutOfMemory map[int]error
}

func (e *NoFitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: need %d MiB free", ErrNoFit, e.MinFree>>20)
	if len(e.OutOfMemory) > 0 {
		b.WriteString(" and a successful load")
	}
	fmt.Fprintf(&b, "; %s", describe(e.GPUs))
	for _, g := range e.GPUs {
		if err, ok := e.OutOfMemory[g.Index]; ok {
			fmt.Fprintf(&b, "; cuda:%d ran out of memory: %v", g.Index, err)
		}
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrNoFit) hold.
func (e *NoFitError) Unwrap() error { return ErrNoFit }

// describe lists GPUs with their free memory: "GPUs cuda:0 (A100) 312 MiB
// free of 40960 MiB, …".
func describe(gpus []kernels.Device) string {
	if len(gpus) == 0 {
		return "no GPUs"
	}
	parts := make([]string, len(gpus))
	for i, g := range gpus {
		name := ""
		if g.Name != "" {
			name = " (" + g.Name + ")"
		}
		parts[i] = fmt.Sprintf("%s%s %d MiB free of %d MiB", g.String(), name, g.MemoryFree>>20, g.MemoryTotal>>20)
	}
	return "GPUs " + strings.Join(parts, ", ")
}

// IsOutOfMemory reports whether err says a device ran out of memory: it
// wraps ErrOutOfMemory or carries a message ONNX Runtime or CUDA gives for
// a failed allocation.
func IsOutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOutOfMemory) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"out of memory", "cudaerrormemoryallocation", "cuda_error_out_of_memory", "failed to allocate memory", "bad_alloc"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
