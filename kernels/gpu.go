package kernels

import "sync"

// GPUKernels runs the kernels on CUDA devices, with the CPU kernels'
// arguments and results plus a CUDA device ordinal. kernels/cuda implements
// it (built only with the gpu tag) and registers it with RegisterGPU from its
// init function.
type GPUKernels interface {
	// Devices returns the CUDA device ordinals the kernels can run on; the
	// error says why there are none (no driver, no device).
	Devices() ([]int, error)
	// Normalize is Normalize on device dev.
	Normalize(dev int, pix []uint8, shape []int, p NormParams) ([]float32, []int, error)
	// Softmax is Softmax on device dev.
	Softmax(dev int, x []float32, shape []int) ([]float32, error)
	// TopK is TopK on device dev; it may accept only a small k (kernels/cuda:
	// k ≤ 32) and return ErrArgument above that.
	TopK(dev int, x []float32, shape []int, k int) ([]float32, []int, []int, error)
	// L2Normalize is L2Normalize on device dev.
	L2Normalize(dev int, x []float32, shape []int, eps float32) ([]float32, error)
}

var (
	gpuMu      sync.Mutex
	gpuKernels GPUKernels
)

// RegisterGPU makes k the GPU kernels GPU returns. It is meant for an init
// function and panics when k is nil or when called twice.
func RegisterGPU(k GPUKernels) {
	gpuMu.Lock()
	defer gpuMu.Unlock()
	if k == nil {
		panic("kernels: RegisterGPU(nil)")
	}
	if gpuKernels != nil {
		panic("kernels: RegisterGPU called twice")
	}
	gpuKernels = k
}

// GPU returns the registered GPU kernels, or nil when none are compiled in
// (a binary built without the gpu tag).
func GPU() GPUKernels {
	gpuMu.Lock()
	defer gpuMu.Unlock()
	return gpuKernels
}

// CheckRows checks shape against n values as the row kernels (Softmax, TopK,
// L2Normalize) do and returns the rows (every axis but the last) and cols
// (the last axis), so a GPU implementation rejects the same inputs with the
// same errors.
func CheckRows(shape []int, n int) (rows, cols int, err error) {
	return rowsCols(shape, n)
}

// CheckNormalize checks Normalize's arguments as Normalize does.
func CheckNormalize(pix []uint8, shape []int, p NormParams) error {
	return checkNormalize(pix, shape, p)
}

// NormalizePreferred is Normalize on the first CUDA device when GPU kernels
// are compiled in (the gpu build) and a device answers, and on the CPU
// otherwise or when the GPU run fails. The CUDA kernel rounds each step as
// the CPU one does, so both give the same values (doctor --selftest checks
// it on the operator's GPU). The synapse mappings' image inputs use it.
func NormalizePreferred(pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	return normalizeOn(GPU(), pix, shape, p)
}

func normalizeOn(g GPUKernels, pix []uint8, shape []int, p NormParams) ([]float32, []int, error) {
	if g != nil {
		if devs, err := g.Devices(); err == nil && len(devs) > 0 {
			if out, s, err := g.Normalize(devs[0], pix, shape, p); err == nil {
				return out, s, nil
			}
		}
	}
	return Normalize(pix, shape, p)
}
