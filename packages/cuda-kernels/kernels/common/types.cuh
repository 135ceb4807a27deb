#pragma once
// Device-side helpers: f32 <-> element conversions, block reductions, and the dtype dispatch used
// by every launcher. Activations are f32 (exact mode) or bf16 (fast mode); math is f32.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis {

template <typename T> __device__ __forceinline__ float to_f32(T x);
template <> __device__ __forceinline__ float to_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
template <> __device__ __forceinline__ float to_f32<__half>(__half x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }

/** Rounds an f32 to T and back: what storing an intermediate in T (as PyTorch does) costs. */
template <typename T> __device__ __forceinline__ float round_to(float x) { return to_f32<T>(from_f32<T>(x)); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

/** Sum over the block; every thread gets the result. `scratch` holds 32 floats. Ends with a barrier. */
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  float total = lane < warps ? scratch[lane] : 0.f;
  total = warp_sum(total);
  __syncthreads();  // scratch may be reused right after
  return total;
}

/** Threads per block for a row of `width` elements: enough to cover it, a multiple of 32, at most 1024. */
inline int row_threads(int width) {
  int threads = 32;
  while (threads < width && threads < 1024) threads <<= 1;
  return threads;
}

}  // namespace ignis

/** Runs the statement with `T` bound to the C++ type of a float activation dtype (f32 or bf16). */
#define IGNIS_DISPATCH_FLOAT(dtype, T, ...)                      \
  switch (dtype) {                                               \
    case ::ignis::DType::F32: {                                  \
      using T = float;                                           \
      __VA_ARGS__;                                               \
      break;                                                     \
    }                                                            \
    case ::ignis::DType::BF16: {                                 \
      using T = __nv_bfloat16;                                   \
      __VA_ARGS__;                                               \
      break;                                                     \
    }                                                            \
    default:                                                     \
      return cudaErrorInvalidValue;                              \
  }
