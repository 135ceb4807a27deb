#pragma once
// Philox4x32-10 (Salmon et al., SC11; Random123, cuRAND and PyTorch use it): a counter-based
// generator, 128 random bits from a 128-bit counter and a 64-bit key in ten rounds. Host and
// device compute the same bits, and so does packages/tensor/src/philox.ts.
#include <cstdint>

#include <cuda_runtime.h>

namespace ignis {

/** The high 32 bits of the 64-bit product a * b. */
__host__ __device__ inline uint32_t mulhi32(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

/** Philox4x32-10 of counter `ctr` under key (k0, k1). */
__host__ __device__ inline uint4 philox4x32_10(uint4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // the key schedule's Weyl increments
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint32_t hi0 = mulhi32(kM0, ctr.x), lo0 = kM0 * ctr.x;
    const uint32_t hi1 = mulhi32(kM1, ctr.z), lo1 = kM1 * ctr.z;
    ctr = make_uint4(hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0);
  }
  return ctr;
}

}  // namespace ignis
