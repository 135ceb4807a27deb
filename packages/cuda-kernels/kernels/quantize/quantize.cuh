#pragma once
// FP8 (e4m3) quantization: weights at load (per output row) and activations every step (per
// row, per row and column group, or with a static scale), and the rescaling a GEMM without
// native per-row scales needs. The rules are those of WeightFormat in @ignis/tensor and of the
// reference backend's quantizeRowsFp8, bit for bit.
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::quantize {

/** The largest finite e4m3 value. */
constexpr float kFp8E4m3Max = 448.f;

/**
 * Rows of x [rows, cols] (f32, f16 or bf16) to e4m3 codes, in groups of `group` columns (the
 * whole row when group >= cols): per group s = max|x| / 448 in f32 (1 for a group of zeros), or
 * *fixed_scale when it is not null; code = e4m3(x / s), the division in f32, nearest even,
 * saturating. `scales` gets [rows, ceil(cols / group)] scales.
 */
cudaError_t rows_fp8(DType from, const void* x, uint8_t* codes, float* scales, int64_t rows, int64_t cols, int64_t group,
                     const float* fixed_scale, cudaStream_t stream);

/**
 * y[t, n] = y[t, n] * row_scale[t] * col_scale[n] (+ bias[n]), in place, for y in f32 or bf16 (bias
 * in y's dtype): the scales of an FP8 product computed with unit scales.
 */
cudaError_t scale_rows_cols(DType dtype, void* y, const float* row_scale, const float* col_scale, const void* bias, int64_t rows, int64_t cols,
                            cudaStream_t stream);

}  // namespace ignis::quantize
