//go:build gpu

package main

// The gpu flavour (make build-gpu): compiles the CUDA kernels in. kernels/cuda
// registers them with package kernels in its init; `miner doctor --selftest`
// compares them with the CPU kernels on every GPU.
import _ "github.com/taominer/taominer/kernels/cuda"
