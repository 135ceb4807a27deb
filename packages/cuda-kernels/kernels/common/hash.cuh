#pragma once
// The stateless hash behind synthetic weights (sampling draws use Philox: philox.cuh). The
// TypeScript side computes the same bits (packages/tensor/src/random.ts), so both backends agree.
#include <cstdint>

#include <cuda_runtime.h>

namespace ignis {

/** MurmurHash3's 32-bit finalizer: a fast, well-mixing bijection on uint32. */
__host__ __device__ inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

}  // namespace ignis
