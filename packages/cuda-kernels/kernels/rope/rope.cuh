#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"
#include "common/kv_cache.h"

namespace ignis::rope {
/**
 * Rotate-half rotary embedding over x [rows, num_heads * head_dim]: for j < half,
 * angle = positions[t] * inv_freq[j] (an f32 product, as PyTorch computes it), channels j and
 * j + half rotate by it; channels from 2 * half on pass through.
 */
cudaError_t launch(DType dtype, const void* x, const int32_t* positions, const float* inv_freq, void* out, int rows, int num_heads,
                   int head_dim, int half, cudaStream_t stream);
}

namespace ignis::rope {
/**
 * The attention prologue for packed q|k|v rows ([rows, (heads + 2 kv_heads) * head_dim]): rotates
 * q into q_out [rows, heads * head_dim], and writes rotated k and plain v into the paged caches at
 * slot_mapping[t] (cache row = slot; a slot outside [0, cache.num_slots) is skipped), as `cache`
 * stores them: an fp8 cache encodes the rotated k from its f32 value, not from a rounded one.
 */
cudaError_t qkv_to_cache(DType dtype, const void* qkv, const int32_t* positions, const float* inv_freq, const int32_t* slot_mapping,
                         void* q_out, const KvCache& cache, int rows, int num_heads, int num_kv_heads, int head_dim, int half,
                         cudaStream_t stream);
}
