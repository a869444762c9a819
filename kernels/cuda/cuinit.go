//go:build gpu

package cuda

/*
#cgo LDFLAGS: -ldl
// The CUDA toolkit's own layout (the nvidia/cuda devel images, NVIDIA's
// installers) keeps cuda.h here and sets no CPATH; gorgonia.org/cu adds this
// path for its own files only. Debian's nvidia-cuda-dev uses /usr/include.
#cgo linux CFLAGS: -I/usr/local/cuda/include
#define _GNU_SOURCE
#include <dlfcn.h>
#include <cuda.h>

// gorgonia.org/cu calls cuInit in its package init and exits the process when
// it fails, which on a machine with the driver library but no usable GPU
// would stop the whole miner before main. This definition in the executable
// takes precedence over libcuda's (symbol interposition): it calls the real
// cuInit, found with dlsym(RTLD_NEXT), records its result and reports success,
// so the process starts and Devices reports the recorded error instead. Every
// later driver call fails with CUDA_ERROR_NOT_INITIALIZED, which nothing makes
// once Devices has failed.
static CUresult taominer_cuinit_result = CUDA_ERROR_NOT_INITIALIZED;

CUresult cuInit(unsigned int flags) {
	CUresult (*real)(unsigned int) = (CUresult (*)(unsigned int))dlsym(RTLD_NEXT, "cuInit");
	if (real == NULL) {
		taominer_cuinit_result = CUDA_ERROR_NOT_INITIALIZED;
		return CUDA_SUCCESS;
	}
	taominer_cuinit_result = real(flags);
	return CUDA_SUCCESS;
}

static CUresult taominer_cuinit(void) { return taominer_cuinit_result; }

static const char* taominer_cu_error_name(CUresult r) {
	const char* s = NULL;
	if (cuGetErrorName(r, &s) != CUDA_SUCCESS || s == NULL) {
		return "unknown CUDA error";
	}
	return s;
}
*/
import "C"

import "fmt"

// initError returns cuInit's error from package initialisation, or nil.
func initError() error {
	r := C.taominer_cuinit()
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return fmt.Errorf("cuInit: %s (%d)", C.GoString(C.taominer_cu_error_name(r)), int(r))
}
