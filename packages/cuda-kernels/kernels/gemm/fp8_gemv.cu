#include <cuda_fp8.h>

#include "common/types.cuh"
#include "gemm/fp8_gemv.cuh"

namespace ignis::gemm {
namespace {

constexpr int kWarps = 8;

/** Four e4m3 codes (one 32-bit word) as floats (exact: e4m3 values are exact in half precision). */
__device__ __forceinline__ void decode4(uint32_t word, float* out) {
  const __half2_raw lo = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(word & 0xffffu), __NV_E4M3);
  const __half2_raw hi = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(word >> 16), __NV_E4M3);
  const float2 a = __half22float2(__half2(lo));
  const float2 b = __half22float2(__half2(hi));
  out[0] = a.x;
  out[1] = a.y;
  out[2] = b.x;
  out[3] = b.y;
}

/** Sixteen e4m3 codes (one 16-byte vector) as floats. */
__device__ __forceinline__ void decode16(const uint4& v, float* out) {
  decode4(v.x, out);
  decode4(v.y, out + 4);
  decode4(v.z, out + 8);
  decode4(v.w, out + 12);
}

// One warp per weight row: each lane reads 16 codes of the row at a time (uint4), decodes them,
// and accumulates their products with the same columns of every input row (read through L1: x
// is small and every warp of the block reads it).
template <int T, typename O>
__global__ void __launch_bounds__(kWarps * 32) fp8_gemv_kernel(const uint8_t* __restrict__ x, const float* __restrict__ x_scale,
                                                                const uint8_t* __restrict__ w, const float* __restrict__ w_scale,
                                                                const O* __restrict__ bias, O* __restrict__ y, int N, int K) {
  const int lane = threadIdx.x & 31;
  const int n = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;
  float acc[T];
#pragma unroll
  for (int t = 0; t < T; ++t) acc[t] = 0.f;
  const uint4* row = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(n) * K);
  const int vectors = K / 16;
#pragma unroll 4
  for (int v = lane; v < vectors; v += 32) {
    float wf[16];
    decode16(__ldg(row + v), wf);
#pragma unroll
    for (int t = 0; t < T; ++t) {
      float xf[16];
      decode16(__ldg(reinterpret_cast<const uint4*>(x + static_cast<int64_t>(t) * K) + v), xf);
#pragma unroll
      for (int i = 0; i < 16; ++i) acc[t] = fmaf(xf[i], wf[i], acc[t]);
    }
  }
#pragma unroll
  for (int t = 0; t < T; ++t) {
    float sum = acc[t];
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) {
      float v = sum * __fmul_rn(x_scale[t], w_scale[n]);
      if (bias != nullptr) v += to_f32(bias[n]);
      y[static_cast<int64_t>(t) * N + n] = from_f32<O>(v);
    }
  }
}

template <int T>
cudaError_t launch(const uint8_t* x, const float* x_scale, const uint8_t* w, const float* w_scale, const void* bias, DType out, void* y, int N,
                   int K, cudaStream_t stream) {
  const int blocks = (N + kWarps - 1) / kWarps;
  IGNIS_DISPATCH_FLOAT(out, O,
                       fp8_gemv_kernel<T, O><<<blocks, kWarps * 32, 0, stream>>>(x, x_scale, w, w_scale, static_cast<const O*>(bias),
                                                                                   static_cast<O*>(y), N, K));
  return cudaGetLastError();
}

}  // namespace

cudaError_t fp8_gemv(const uint8_t* x, const float* x_scale, const uint8_t* w, const float* w_scale, const void* bias, DType out, void* y,
                     int64_t T, int64_t N, int64_t K, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (T > kFp8GemvMaxRows || K % 16 != 0 || N > 0x7fffffff || K > 0x7fffffff) return cudaErrorInvalidValue;
  const int n = static_cast<int>(N);
  const int k = static_cast<int>(K);
  switch (T) {
    case 1: return launch<1>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 2: return launch<2>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 3: return launch<3>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 4: return launch<4>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 5: return launch<5>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 6: return launch<6>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    case 7: return launch<7>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
    default: return launch<8>(x, x_scale, w, w_scale, bias, out, y, n, k, stream);
  }
}

}  // namespace ignis::gemm
