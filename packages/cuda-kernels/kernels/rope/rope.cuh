#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::rope {
/**
 * Rotate-half rotary embedding over x [rows, num_heads * head_dim]: for j < half,
 * angle = positions[t] * inv_freq[j] (an f32 product, as PyTorch computes it), channels j and
 * j + half rotate by it; channels from 2 * half on pass through.
 */
cudaError_t launch(DType dtype, const void* x, const int32_t* positions, const float* inv_freq, void* out, int rows, int num_heads,
                   int head_dim, int half, cudaStream_t stream);
}
