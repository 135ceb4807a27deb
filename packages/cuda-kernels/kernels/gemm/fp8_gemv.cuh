#pragma once
// FP8 (e4m3) products of a few rows, for decode: y[t, n] = x_scale[t] * w_scale[n] *
// sum_k x[t, k] * w[n, k] (+ bias[n]), e4m3 codes in, f32 accumulation on CUDA cores. Reading the
// weight is the whole cost, so each warp streams 16-byte vectors of one weight row and applies
// them to every input row at once (cuBLASLt's FP8 kernels reach a third of the bandwidth at one row).
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::gemm {

/** Most input rows fp8_gemv takes: past this, a tensor-core GEMM is faster. */
constexpr int64_t kFp8GemvMaxRows = 8;

/**
 * y [T, N] in `out` (f32 or bf16; bias in out's dtype) from x [T, K] and w [N, K] e4m3 codes and
 * their per-row f32 scales. T <= kFp8GemvMaxRows; K a multiple of 16; x and w 16-byte aligned.
 */
cudaError_t fp8_gemv(const uint8_t* x, const float* x_scale, const uint8_t* w, const float* w_scale, const void* bias, DType out, void* y,
                     int64_t T, int64_t N, int64_t K, cudaStream_t stream);

}  // namespace ignis::gemm
