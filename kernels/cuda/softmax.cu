// softmax.cu: the CUDA twin of kernels.Softmax.
//
// One block per row; blockDim.x must be SOFTMAX_THREADS (a power of two). The
// row maximum and then the sum of exp(x - max) are reduced in shared memory,
// so the result is exp(x - max) / sum, stable for large inputs. A row with NaN
// or +Inf, or only -Inf, gives NaN everywhere, as on the CPU (fmaxf skips NaN,
// but exp(NaN - max) then makes the sum NaN). The sum is added in a different
// order than on the CPU, so results differ in the last bits.

#define SOFTMAX_THREADS 256

extern "C" __global__ void taominer_softmax_rows(
    const float* __restrict__ x, float* __restrict__ out, int cols)
{
    __shared__ float red[SOFTMAX_THREADS];
    const float* row = x + (long long)blockIdx.x * cols;
    float* dst = out + (long long)blockIdx.x * cols;
    const int t = threadIdx.x;

    float m = -INFINITY;
    for (int i = t; i < cols; i += SOFTMAX_THREADS) {
        m = fmaxf(m, row[i]);
    }
    red[t] = m;
    __syncthreads();
    for (int s = SOFTMAX_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            red[t] = fmaxf(red[t], red[t + s]);
        }
        __syncthreads();
    }
    const float mx = red[0];
    __syncthreads();

    float sum = 0.0f;
    for (int i = t; i < cols; i += SOFTMAX_THREADS) {
        sum += expf(row[i] - mx);
    }
    red[t] = sum;
    __syncthreads();
    for (int s = SOFTMAX_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            red[t] += red[t + s];
        }
        __syncthreads();
    }
    const float total = red[0];

    for (int i = t; i < cols; i += SOFTMAX_THREADS) {
        dst[i] = expf(row[i] - mx) / total;
    }
}
