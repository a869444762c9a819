#!/usr/bin/env bash
# gen-ptx.sh [OUTDIR]: compiles kernels/cuda/*.cu to PTX with nvcc (CUDA 11.8,
# Debian's nvidia-cuda-toolkit) into OUTDIR (default kernels/cuda, where the
# committed .ptx files live). The output is deterministic: nvcc writes no
# timestamp or path into PTX, so two runs give identical bytes, and CI compares
# a fresh run with the committed files.
#
# Target: compute_52 PTX (Maxwell, the oldest architecture CUDA 11.8 does not
# deprecate). The driver JIT-compiles it for the GPU it finds, which works on
# every later architecture; the kernels use nothing newer than shared memory
# and __syncthreads. PTX from nvcc 11.8 declares ISA 7.8, so the driver must be
# R520 or newer (CUDA 11.8 or later).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-kernels/cuda}
NVCC=${NVCC:-nvcc}
NVCC_ARCH=${NVCC_ARCH:-compute_52}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for src in kernels/cuda/*.cu; do
  name=$(basename "$src" .cu)
  # Compile from inside the folder so no path can reach the output.
  (cd kernels/cuda && "$NVCC" -ptx -arch="$NVCC_ARCH" -o "$out/$name.ptx.tmp" "$name.cu")
  mv "$out/$name.ptx.tmp" "$out/$name.ptx"
done
