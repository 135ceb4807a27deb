#pragma once
// FP8 e4m3 on the device: the cache encoding of the contract (packages/tensor/src/fp8.ts,
// f32ToFp8e4m3) and exact decoding. e4m3 values (3 mantissa bits, 2^-9 .. 448) are exact in f16,
// bf16 and f32, so decoding loses nothing; sm_89+ converts two codes to f16x2 in one instruction.
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "common/types.cuh"

namespace ignis {

/** The storage type of one e4m3 code in a cache (distinct from every activation type). */
using e4m3_t = __nv_fp8_storage_t;

/** x -> e4m3 code of x / scale: the quotient in f32 (IEEE division), nearest even, saturating at ±448. */
__device__ __forceinline__ e4m3_t encode_e4m3(float x, float scale) {
  return __nv_cvt_float_to_fp8(__fdiv_rn(x, scale), __NV_SATFINITE, __NV_E4M3);
}

/** Two codes (the first in the low byte of the low 16 bits) -> f16x2 (the first in the low half), exact. */
__device__ __forceinline__ uint32_t e4m3x2_to_f16x2(uint32_t two_codes) {
  // The instruction __nv_cvt_fp8x2_to_halfraw2 wraps (sm_89+), without its memcpy of the result.
  uint32_t h;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"(static_cast<uint16_t>(two_codes)));
  return h;
}

/** Four codes (a little-endian word) -> four floats, exact. */
__device__ __forceinline__ void e4m3x4_to_float(uint32_t codes, float* f) {
  const uint32_t lo = e4m3x2_to_f16x2(codes);
  const uint32_t hi = e4m3x2_to_f16x2(codes >> 16);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&lo));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&hi));
  f[0] = a.x;
  f[1] = a.y;
  f[2] = b.x;
  f[3] = b.y;
}

/**
 * An f32 value as a cache of element type C stores it: the activation type itself (rounded as
 * any activation, `scale` unused: float caches are not scaled) or an e4m3 code of x / scale.
 */
template <typename C>
__device__ __forceinline__ C to_cache(float x, float scale) {
  if constexpr (std::is_same_v<C, e4m3_t>) {
    return encode_e4m3(x, scale);
  } else {
    return from_f32<C>(x);
  }
}

}  // namespace ignis

/**
 * Runs the statement with `C` bound to the cache element type of a KvCache dtype: the activation
 * type `T` itself, or e4m3_t. Anything else returns cudaErrorInvalidValue.
 */
#define IGNIS_DISPATCH_KV_CACHE(cache_dtype, activation_dtype, T, C, ...) \
  if ((cache_dtype) == ::ignis::DType::FP8E4M3) {                       \
    using C = ::ignis::e4m3_t;                                           \
    __VA_ARGS__;                                                         \
  } else if ((cache_dtype) == (activation_dtype)) {                      \
    using C = T;                                                         \
    __VA_ARGS__;                                                         \
  } else {                                                               \
    return cudaErrorInvalidValue;                                        \
  }
