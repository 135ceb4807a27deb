#pragma once
// On-device sampling: one token and its log-probability per row of f32 logits, with temperature,
// top_k, top_p and min_p, drawn with a stateless seeded uniform. The rules are those of the `sample`
// op (packages/tensor/src/reference/kernels/sample.ts); NOTES.md restates them and the design.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "common/philox.cuh"

namespace ignis::sampling {

struct Params {
  const float* logits;  // [rows, vocab], row-major, 4-byte aligned (rows need not be 16-byte aligned)
  int rows;
  int vocab;
  // Device arrays [rows]. temperature below FLT_MIN (0 included) is greedy; top_k 0 (or >= vocab)
  // keeps all; top_p 1 keeps all; min_p 0 keeps all. seed and step feed uniform().
  const float* temperature;
  const int32_t* top_k;
  const float* top_p;
  const float* min_p;
  const uint32_t* seed;
  const int32_t* step;
  int32_t* out_token;   // [rows]
  float* out_logprob;   // [rows]: logits[token] - logsumexp(logits row), without temperature
};

/** Bytes of workspace that launch() needs (0 today: everything lives in shared memory). */
size_t workspace_bytes(int rows, int vocab);

/**
 * Checks `p` (non-null pointers, sizes, alignment) and launches one thread block per row on
 * `stream`. No allocation and no synchronization: it can be captured in a CUDA graph. Returns
 * cudaErrorInvalidValue for bad parameters, otherwise the launch's error.
 */
cudaError_t launch(const Params& p, void* workspace, cudaStream_t stream);

/** The same rules on the host, in double where the TypeScript reference uses double (for tests). */
void reference(const float* logits, int rows, int vocab, const float* temperature, const int32_t* top_k,
               const float* top_p, const float* min_p, const uint32_t* seed, const int32_t* step,
               int32_t* out_token, float* out_logprob);

/**
 * The top 24 bits of the draw for (seed, step): the first word of Philox4x32-10 with key (seed, 0)
 * and counter (step, 0, 0, 0), shifted right by 8. uniform() == uniform_bits() / 2^24 exactly.
 * The same bits as sampleUniform() in packages/tensor/src/random.ts.
 */
__host__ __device__ inline uint32_t uniform_bits(uint32_t seed, int32_t step) {
  return philox4x32_10(make_uint4(static_cast<uint32_t>(step), 0u, 0u, 0u), seed, 0u).x >> 8;
}

/** The uniform draw in [0, 1) for (seed, step); the same bits as sampleUniform() in TypeScript. */
__host__ __device__ inline float uniform(uint32_t seed, int32_t step) {
  return static_cast<float>(uniform_bits(seed, step)) * (1.0f / 16777216.0f);
}

}  // namespace ignis::sampling
