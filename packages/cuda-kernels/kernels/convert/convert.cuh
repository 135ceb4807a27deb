#pragma once
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::convert {
/** dst[i] = src[i] converted (rounding to nearest even) for float dtypes f32/f16/bf16 -> f32/bf16. */
cudaError_t cast(DType from, const void* src, DType to, void* dst, size_t n, cudaStream_t stream);
/**
 * Synthetic weights: dst[i] = offset + scale * u, u uniform in [-1, 1) from a stateless hash of
 * (seed, i), so a named shape gets the same weights on every run without a checkpoint.
 */
cudaError_t fill_uniform(DType to, void* dst, size_t n, uint32_t seed, float scale, float offset, cudaStream_t stream);
}
