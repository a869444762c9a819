// l2norm.cu: the CUDA twin of kernels.L2Normalize.
//
// One block per row; blockDim.x must be L2_THREADS (a power of two). The sum
// of squares is reduced in shared memory (float32, in a different order than
// the CPU's index order), then y = x / max(sqrt(sum), eps).

#define L2_THREADS 256

extern "C" __global__ void taominer_l2_normalize_rows(
    const float* __restrict__ x, float* __restrict__ out, int cols, float eps)
{
    __shared__ float red[L2_THREADS];
    const float* row = x + (long long)blockIdx.x * cols;
    float* dst = out + (long long)blockIdx.x * cols;
    const int t = threadIdx.x;

    float sum = 0.0f;
    for (int i = t; i < cols; i += L2_THREADS) {
        const float v = row[i];
        sum += v * v;
    }
    red[t] = sum;
    __syncthreads();
    for (int s = L2_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            red[t] += red[t + s];
        }
        __syncthreads();
    }
    float norm = sqrtf(red[0]);
    if (!(norm >= eps)) {
        norm = eps;  // as the CPU's clamp to [eps, +Inf)
    }
    for (int i = t; i < cols; i += L2_THREADS) {
        dst[i] = row[i] / norm;
    }
}
