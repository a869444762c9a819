// normalize.cu: the CUDA twin of kernels.Normalize.
//
// N images, interleaved HWC uint8 [N, H, W, C], become planar NCHW float32
// [N, C, H, W] with out = (float(v) * scale - mean[c]) / std[c], each step
// rounded to float32 in that order, as the CPU kernel does. The explicit
// round-to-nearest intrinsics stop nvcc from contracting the multiply and the
// subtraction into one fused multiply-add (which rounds once), so the result
// is bit-identical to the CPU's.

extern "C" __global__ void taominer_normalize_hwc_u8(
    const unsigned char* __restrict__ pix, float* __restrict__ out,
    const float* __restrict__ params,  // mean[0..c), then std[0..c)
    int n, int hw, int c, float scale)
{
    const long long total = (long long)n * c * hw;
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        // i indexes the output: image img, channel ch, pixel j of the plane.
        const long long plane = i / hw;
        const int j = (int)(i - plane * hw);
        const int ch = (int)(plane % c);
        const long long img = plane / c;
        const unsigned char v = pix[(img * hw + j) * c + ch];
        float x = __fmul_rn((float)v, scale);
        x = __fsub_rn(x, params[ch]);
        out[i] = __fdiv_rn(x, params[c + ch]);
    }
}
