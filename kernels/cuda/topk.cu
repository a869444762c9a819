// topk.cu: the CUDA twin of kernels.TopK, for k <= TOPK_MAX_K (32).
//
// One block per row; blockDim.x must be TOPK_THREADS (a power of two). Each
// thread scans its strided share of the row keeping its best k in a sorted
// list, then the block merges the lists pairwise in shared memory (log2 of
// TOPK_THREADS rounds). The order is total, so the result equals the CPU's
// exactly: NaN first, then larger values, and equal values (NaN included) by
// lower index. Indices are written as int32.

#define TOPK_THREADS 64
#define TOPK_MAX_K 32

// above reports whether (a, ia) ranks above (b, ib); ib < 0 marks an empty
// slot, which every element ranks above.
__device__ __forceinline__ bool above(float a, int ia, float b, int ib)
{
    if (ib < 0) {
        return ia >= 0;
    }
    if (ia < 0) {
        return false;
    }
    const bool an = a != a, bn = b != b;
    if (an || bn) {
        if (an && bn) {
            return ia < ib;
        }
        return an;
    }
    if (a != b) {
        return a > b;
    }
    return ia < ib;
}

extern "C" __global__ void taominer_topk_rows(
    const float* __restrict__ x, float* __restrict__ vals, int* __restrict__ idx,
    int cols, int k)
{
    __shared__ float sv[TOPK_THREADS * TOPK_MAX_K];
    __shared__ int si[TOPK_THREADS * TOPK_MAX_K];
    const float* row = x + (long long)blockIdx.x * cols;
    const int t = threadIdx.x;
    float* lv = sv + t * TOPK_MAX_K;
    int* li = si + t * TOPK_MAX_K;

    for (int j = 0; j < k; j++) {
        lv[j] = 0.0f;
        li[j] = -1;
    }
    // Insertion into this thread's sorted list; indices rise as i does, so an
    // equal value never moves above an earlier one.
    for (int i = t; i < cols; i += TOPK_THREADS) {
        const float v = row[i];
        if (!above(v, i, lv[k - 1], li[k - 1])) {
            continue;
        }
        int j = k - 1;
        while (j > 0 && above(v, i, lv[j - 1], li[j - 1])) {
            lv[j] = lv[j - 1];
            li[j] = li[j - 1];
            j--;
        }
        lv[j] = v;
        li[j] = i;
    }
    __syncthreads();

    // Pairwise merge: list t takes the best k of lists t and t + s.
    for (int s = TOPK_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            float mv[TOPK_MAX_K];
            int mi[TOPK_MAX_K];
            const float* bv = sv + (t + s) * TOPK_MAX_K;
            const int* bi = si + (t + s) * TOPK_MAX_K;
            int a = 0, b = 0;
            for (int j = 0; j < k; j++) {
                if (above(lv[a], li[a], bv[b], bi[b])) {
                    mv[j] = lv[a];
                    mi[j] = li[a];
                    a++;
                } else {
                    mv[j] = bv[b];
                    mi[j] = bi[b];
                    b++;
                }
            }
            for (int j = 0; j < k; j++) {
                lv[j] = mv[j];
                li[j] = mi[j];
            }
        }
        __syncthreads();
    }
    if (t == 0) {
        float* ov = vals + (long long)blockIdx.x * k;
        int* oi = idx + (long long)blockIdx.x * k;
        for (int j = 0; j < k; j++) {
            ov[j] = lv[j];
            oi[j] = li[j];
        }
    }
}
