//go:build gpu

package kernels

// CUDA reports whether this binary was built with the gpu tag, which
// compiles the CUDA kernels (kernels/cuda) in.
const CUDA = true
