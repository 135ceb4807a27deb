#pragma once
// Device primitives of the sampling kernel: order-preserving keys, the fixed-point weight of a
// token, warp reductions and scans, and the two sources a pass can read (the logits row in global
// memory; the candidates in shared memory are in sampling_kernel.cuh), read as quads of 4 elements.
#include <cfloat>
#include <climits>
#include <cstdint>

#include <cuda_runtime.h>

namespace ignis::sampling::detail {

constexpr int kThreads = 1024;                 // one block per row
constexpr int kWarps = kThreads / 32;
constexpr int kCap = 4096;                     // candidates held in shared memory
constexpr int kRegion = kCap / kWarps;         // per-warp slice of a speculative compaction
constexpr int kUnroll = 4;                     // quads each lane has in flight
constexpr int kValueSteps = 16;                // bisection steps that halve values before keys
constexpr uint32_t kFull = 0xFFFFFFFFu;
constexpr uint32_t kKeyNegInf = 0x007FFFFFu;   // key_of(-inf); keys below it are never counted
constexpr uint32_t kKeyPosInf = 0xFF800000u;   // key_of(+inf)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kFixScale = 1099511627776.0f;  // 2^40: weights are integers, sums exact

/**
 * A uint32 that orders like the float: -0 is folded into +0 (they compare equal), NaN maps to 0
 * (below every threshold, so NaN is never counted nor kept). Valid keys lie in [kKeyNegInf, kKeyPosInf].
 */
__device__ __forceinline__ uint32_t key_of(float x) {
  uint32_t u = __float_as_uint(x);
  u = u == 0x80000000u ? 0u : u;
  const uint32_t k = u ^ (static_cast<uint32_t>(static_cast<int32_t>(u) >> 31) | 0x80000000u);
  return (k > kKeyPosInf || k < kKeyNegInf) ? 0u : k;
}

__device__ __forceinline__ float from_key(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k ^ 0x80000000u) : ~k);
}

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/**
 * The weight p = exp((x - xmax) / T) of a logit as an integer of 2^-40 units (c = log2(e) / T).
 * Every pass computes it with these same operations, so a token's weight is the same bits in
 * every pass, and sums of weights are exact and independent of their order.
 */
__device__ __forceinline__ unsigned long long weight(float x, float xmax, float c) {
  return __float2ull_rn(ex2((x - xmax) * c) * kFixScale);
}

/** floor(bits24 / 2^24 * total): the target of the draw in weight units (exact, 82-bit product). */
__device__ __forceinline__ unsigned long long scale_target(uint32_t bits24, unsigned long long total) {
  const unsigned long long lo = static_cast<unsigned long long>(bits24) * total;
  const unsigned long long hi = __umul64hi(static_cast<unsigned long long>(bits24), total);
  return (hi << 40) | (lo >> 24);
}

__device__ __forceinline__ unsigned long long warp_sum_u64(unsigned long long v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFull, v, offset);
  return v;
}

__device__ __forceinline__ unsigned long long warp_inclusive_scan_u64(unsigned long long v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const unsigned long long t = __shfl_up_sync(kFull, v, d);
    if (lane >= d) v += t;
  }
  return v;
}

/** Quads [qa, qb) of a source that warp `warp` owns: contiguous, in index order across warps. */
__device__ __forceinline__ void warp_range(int nq, int warp, int& qa, int& qb) {
  const int per = (((nq + kWarps - 1) / kWarps) + 7) & ~7;  // whole 128-byte lines per warp
  qa = min(warp * per, nq);
  qb = min(qa + per, nq);
}

/** The logits row: quad q holds elements s + 4q .. s + 4q + 3, where s <= 0 aligns quads to 16 bytes. */
struct RowSource {
  const float* row;
  int n;
  int s;
  int nq;

  __device__ RowSource(const float* r, int vocab) : row(r), n(vocab) {
    const int skew = static_cast<int>((reinterpret_cast<uintptr_t>(r) >> 2) & 3u);
    s = -skew;
    nq = (vocab + skew + 3) >> 2;
  }

  /**
   * Loads quad q if q < qend; returns the mask of valid elements. Invalid ones read as NaN (key 0,
   * never counted) or, with kInfPad, as -inf (no weight in a logsumexp).
   */
  template <bool kInfPad = false>
  __device__ __forceinline__ int load(int q, int qend, float (&x)[4]) const {
    const int i0 = s + 4 * q;
    if (q < qend && i0 >= 0 && i0 + 4 <= n) {
      const float4 v = __ldg(reinterpret_cast<const float4*>(row + i0));
      x[0] = v.x;
      x[1] = v.y;
      x[2] = v.z;
      x[3] = v.w;
      return 0xF;
    }
    int mask = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int i = i0 + j;
      const bool ok = q < qend && i >= 0 && i < n;
      x[j] = ok ? __ldg(row + i) : (kInfPad ? -INFINITY : NAN);
      mask |= ok ? (1 << j) : 0;
    }
    return mask;
  }

  __device__ __forceinline__ int index(int q, int j) const { return s + 4 * q + j; }
};

}  // namespace ignis::sampling::detail
