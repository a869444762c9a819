//go:build gpu

// Package cuda runs the CUDA twins of the kernels package's Normalize,
// Softmax, TopK and L2Normalize on NVIDIA GPUs. It is built only with the
// project's gpu tag and registers itself with kernels.RegisterGPU in init;
// miner/gpu.go imports it for that effect alone.
//
// The kernels are the .cu files beside this one, compiled to PTX for
// compute_52 with nvcc (scripts/gen-ptx.sh, `make ptx`); the .ptx files are
// committed and embedded, and the driver JIT-compiles them for the GPU it
// finds. They are launched through gorgonia.org/cu (the CUDA driver API), one
// context per device, created on first use. Calls on one device are
// serialised; each copies its input to the device, launches, waits and copies
// the result back.
//
// gorgonia.org/cu links libcuda hard, so a binary with this package needs the
// NVIDIA driver's libcuda.so.1 to start at all; without a usable GPU it starts
// anyway (see cuinit.go) and Devices says why there is none.
//
// None of this has run on a GPU: the machines it was written on have none.
// `miner doctor --selftest` compares each kernel with its CPU twin on every
// GPU.
package cuda

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/taominer/taominer/kernels"
)

var (
	//go:embed normalize.ptx
	normalizePTX string
	//go:embed softmax.ptx
	softmaxPTX string
	//go:embed topk.ptx
	topkPTX string
	//go:embed l2norm.ptx
	l2normPTX string
)

// Launch geometry; each must match the constant of the same name in the .cu
// source (SOFTMAX_THREADS, L2_THREADS, TOPK_THREADS, TOPK_MAX_K).
const (
	normalizeThreads = 256
	normalizeBlocks  = 4096 // the kernel loops over the rest (grid stride)
	softmaxThreads   = 256
	l2Threads        = 256
	topkThreads      = 64
	// MaxK is the largest k TopK accepts: each thread keeps its best k in
	// shared memory (64 threads × 32 × 8 bytes = 16 KiB per block).
	MaxK = 32
	// maxRows is the largest grid the one-block-per-row kernels launch.
	maxRows = math.MaxInt32
)

// ErrNoDevice reports that no CUDA device can run the kernels.
var ErrNoDevice = errors.New("no CUDA device")

func init() {
	kernels.RegisterGPU(&Provider{})
}

// Provider implements kernels.GPUKernels on the CUDA devices of this machine.
// The zero value is ready to use; the driver is asked for devices on the
// first call.
type Provider struct {
	once sync.Once
	devs []*device
	err  error
}

// device is one CUDA device with its context and kernels, made on first use.
type device struct {
	ord  int
	mu   sync.Mutex // serialises calls, which share the context's stream
	once sync.Once
	err  error
	ctx  cu.CUContext
	fn   struct{ normalize, softmax, topk, l2 cu.Function }
}

// Devices returns the CUDA device ordinals, or why there are none.
func (p *Provider) Devices() ([]int, error) {
	p.once.Do(p.discover)
	if p.err != nil {
		return nil, p.err
	}
	ords := make([]int, len(p.devs))
	for i, d := range p.devs {
		ords[i] = d.ord
	}
	return ords, nil
}

func (p *Provider) discover() {
	if err := initError(); err != nil {
		p.err = fmt.Errorf("%w: %v", ErrNoDevice, err)
		return
	}
	n, err := cu.NumDevices()
	if err != nil {
		p.err = fmt.Errorf("%w: cuDeviceGetCount: %v", ErrNoDevice, err)
		return
	}
	if n == 0 {
		p.err = fmt.Errorf("%w: the driver reports none", ErrNoDevice)
		return
	}
	for i := 0; i < n; i++ {
		p.devs = append(p.devs, &device{ord: i})
	}
}

// run calls f on device dev with its context current on a locked OS thread.
func (p *Provider) run(dev int, f func(d *device) error) error {
	if _, err := p.Devices(); err != nil {
		return err
	}
	if dev < 0 || dev >= len(p.devs) {
		return fmt.Errorf("%w: device %d, have %d", ErrNoDevice, dev, len(p.devs))
	}
	d := p.devs[dev]
	d.mu.Lock()
	defer d.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.once.Do(d.open)
	if d.err != nil {
		return d.err
	}
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return fmt.Errorf("cuda:%d: set context: %w", d.ord, err)
	}
	if err := f(d); err != nil {
		return fmt.Errorf("cuda:%d: %w", d.ord, err)
	}
	return nil
}

// open creates the context (current on the calling, locked thread) and loads
// the embedded modules.
func (d *device) open() {
	ctx, err := cu.Device(d.ord).MakeContext(cu.SchedAuto)
	if err != nil {
		d.err = fmt.Errorf("cuda:%d: create context: %w", d.ord, err)
		return
	}
	d.ctx = ctx
	load := func(ptx, name string, fn *cu.Function) {
		if d.err != nil {
			return
		}
		m, err := cu.LoadData(ptx)
		if err == nil {
			*fn, err = m.Function(name)
		}
		if err != nil {
			d.err = fmt.Errorf("cuda:%d: load %s: %w", d.ord, name, err)
		}
	}
	load(normalizePTX, "taominer_normalize_hwc_u8", &d.fn.normalize)
	load(softmaxPTX, "taominer_softmax_rows", &d.fn.softmax)
	load(topkPTX, "taominer_topk_rows", &d.fn.topk)
	load(l2normPTX, "taominer_l2_normalize_rows", &d.fn.l2)
}

// mem tracks device allocations of one call.
type mem []cu.DevicePtr

func (m *mem) alloc(bytes int) (cu.DevicePtr, error) {
	p, err := cu.MemAlloc(int64(bytes))
	if err != nil {
		return 0, fmt.Errorf("allocate %d bytes: %w", bytes, err)
	}
	*m = append(*m, p)
	return p, nil
}

func (m *mem) upload(src unsafe.Pointer, bytes int) (cu.DevicePtr, error) {
	p, err := m.alloc(bytes)
	if err != nil {
		return 0, err
	}
	if err := cu.MemcpyHtoD(p, src, int64(bytes)); err != nil {
		return 0, fmt.Errorf("copy %d bytes to the device: %w", bytes, err)
	}
	return p, nil
}

func (m mem) free() {
	for _, p := range m {
		_ = cu.MemFree(p)
	}
}

// Kernel arguments. gorgonia.org/cu's Launch reads 8 bytes behind every
// parameter pointer, so each argument sits in its own uint64 (the driver uses
// the low 4 bytes of an int or float parameter: little-endian only, as cu is
// 64-bit only).
func argPtr(p cu.DevicePtr) uint64 { return uint64(p) }
func argInt(v int) uint64          { return uint64(uint32(int32(v))) }
func argFloat(v float32) uint64    { return uint64(math.Float32bits(v)) }

// launch runs fn on grid×block threads with args and waits for it.
func launch(fn cu.Function, grid, block int, args ...uint64) error {
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	if err := fn.Launch(grid, 1, 1, block, 1, 1, 0, cu.NoStream, params); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

func download[T any](dst []T, src cu.DevicePtr) error {
	bytes := len(dst) * int(unsafe.Sizeof(dst[0]))
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src, int64(bytes)); err != nil {
		return fmt.Errorf("copy %d bytes from the device: %w", bytes, err)
	}
	return nil
}

// Normalize is kernels.Normalize on device dev; the result is bit-identical
// to the CPU's.
func (p *Provider) Normalize(dev int, pix []uint8, shape []int, np kernels.NormParams) ([]float32, []int, error) {
	if err := kernels.CheckNormalize(pix, shape, np); err != nil {
		return nil, nil, fmt.Errorf("normalize: %w", err)
	}
	n, h, w, c := shape[0], shape[1], shape[2], shape[3]
	if n*h*w*c > math.MaxInt32 || h*w > math.MaxInt32 {
		return nil, nil, fmt.Errorf("normalize: %w: %v is too large for one launch", kernels.ErrShape, shape)
	}
	out := make([]float32, len(pix))
	params := append(append([]float32(nil), np.Mean...), np.Std...)
	err := p.run(dev, func(d *device) error {
		var m mem
		defer m.free()
		in, err := m.upload(unsafe.Pointer(&pix[0]), len(pix))
		if err != nil {
			return err
		}
		pp, err := m.upload(unsafe.Pointer(&params[0]), 4*len(params))
		if err != nil {
			return err
		}
		dst, err := m.alloc(4 * len(out))
		if err != nil {
			return err
		}
		blocks := min((len(out)+normalizeThreads-1)/normalizeThreads, normalizeBlocks)
		if err := launch(d.fn.normalize, blocks, normalizeThreads,
			argPtr(in), argPtr(dst), argPtr(pp), argInt(n), argInt(h*w), argInt(c), argFloat(np.Scale)); err != nil {
			return err
		}
		return download(out, dst)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("normalize: %w", err)
	}
	return out, []int{n, c, h, w}, nil
}

// rowKernel runs a one-block-per-row kernel that maps x to an output of the
// same size; extra are the arguments after (x, out, cols).
func (p *Provider) rowKernel(dev int, x []float32, rows, cols, threads int, fn func(*device) cu.Function, extra ...uint64) ([]float32, error) {
	if rows > maxRows || len(x) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d×%d is too large for one launch", kernels.ErrShape, rows, cols)
	}
	out := make([]float32, len(x))
	err := p.run(dev, func(d *device) error {
		var m mem
		defer m.free()
		in, err := m.upload(unsafe.Pointer(&x[0]), 4*len(x))
		if err != nil {
			return err
		}
		dst, err := m.alloc(4 * len(out))
		if err != nil {
			return err
		}
		args := append([]uint64{argPtr(in), argPtr(dst), argInt(cols)}, extra...)
		if err := launch(fn(d), rows, threads, args...); err != nil {
			return err
		}
		return download(out, dst)
	})
	return out, err
}

// Softmax is kernels.Softmax on device dev. The row sums are added in a
// different order than on the CPU, so the last bits may differ.
func (p *Provider) Softmax(dev int, x []float32, shape []int) ([]float32, error) {
	rows, cols, err := kernels.CheckRows(shape, len(x))
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	out, err := p.rowKernel(dev, x, rows, cols, softmaxThreads, func(d *device) cu.Function { return d.fn.softmax })
	if err != nil {
		return nil, fmt.Errorf("softmax: %w", err)
	}
	return out, nil
}

// L2Normalize is kernels.L2Normalize on device dev. The sums of squares are
// added in a different order than on the CPU, so the last bits may differ.
func (p *Provider) L2Normalize(dev int, x []float32, shape []int, eps float32) ([]float32, error) {
	rows, cols, err := kernels.CheckRows(shape, len(x))
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	if !(eps >= 0) {
		return nil, fmt.Errorf("l2-normalize: %w: epsilon %v", kernels.ErrArgument, eps)
	}
	out, err := p.rowKernel(dev, x, rows, cols, l2Threads, func(d *device) cu.Function { return d.fn.l2 }, argFloat(eps))
	if err != nil {
		return nil, fmt.Errorf("l2-normalize: %w", err)
	}
	return out, nil
}

// TopK is kernels.TopK on device dev for k ≤ MaxK (32); a larger k is
// ErrArgument (use the CPU kernel). Values and indices equal the CPU's
// exactly, ties and NaN included.
func (p *Provider) TopK(dev int, x []float32, shape []int, k int) ([]float32, []int, []int, error) {
	rows, cols, err := kernels.CheckRows(shape, len(x))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("top-k: %w", err)
	}
	if k < 1 || k > cols {
		return nil, nil, nil, fmt.Errorf("top-k: %w: k = %d, last axis has %d", kernels.ErrArgument, k, cols)
	}
	if k > MaxK {
		return nil, nil, nil, fmt.Errorf("top-k: %w: k = %d, the CUDA kernel takes at most %d", kernels.ErrArgument, k, MaxK)
	}
	if rows > maxRows || len(x) > math.MaxInt32 {
		return nil, nil, nil, fmt.Errorf("top-k: %w: %d×%d is too large for one launch", kernels.ErrShape, rows, cols)
	}
	vals := make([]float32, rows*k)
	idx32 := make([]int32, rows*k)
	err = p.run(dev, func(d *device) error {
		var m mem
		defer m.free()
		in, err := m.upload(unsafe.Pointer(&x[0]), 4*len(x))
		if err != nil {
			return err
		}
		dv, err := m.alloc(4 * len(vals))
		if err != nil {
			return err
		}
		di, err := m.alloc(4 * len(idx32))
		if err != nil {
			return err
		}
		if err := launch(d.fn.topk, rows, topkThreads, argPtr(in), argPtr(dv), argPtr(di), argInt(cols), argInt(k)); err != nil {
			return err
		}
		if err := download(vals, dv); err != nil {
			return err
		}
		return download(idx32, di)
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("top-k: %w", err)
	}
	idx := make([]int, len(idx32))
	for i, v := range idx32 {
		idx[i] = int(v)
	}
	outShape := append([]int(nil), shape...)
	outShape[len(outShape)-1] = k
	return vals, idx, outShape, nil
}

var _ kernels.GPUKernels = (*Provider)(nil)
