#pragma once
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::rmsnorm {
/**
 * Per row of `width`: out = weight * round(x * rsqrt(mean(x^2) + eps)), statistics in f32, as
 * Hugging Face's RMSNorm rounds. With `residual`: sum = round(x + residual) is written to `sum`
 * and normalized instead (the fused residual add). `residual` and `sum` are both null or both set.
 */
cudaError_t launch(DType dtype, const void* x, const void* residual, const void* weight, void* sum, void* out, int rows, int width,
                   float eps, cudaStream_t stream);
}
