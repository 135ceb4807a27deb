#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace ignis::penalties {
/**
 * The `penalties` op (see packages/tensor/src/graph/ops.ts) on f32 logits [rows, vocab]: row r's
 * tokens are tokens[start[r] .. start[r+1]-1], its output tokens from index output_start[r] of
 * that range. In place when out == logits. Deterministic: three phases (repetition once per
 * distinct token; frequency once per output occurrence, by an atomic compare-and-swap of one
 * subtraction, the same operation each time, so the result does not depend on order; presence
 * once per distinct output token). A finite logit stays finite: each result past +-FLT_MAX
 * saturates there, as in the reference.
 */
cudaError_t launch(const float* logits, float* out, const int32_t* tokens, const int32_t* start, const int32_t* output_start,
                   const float* repetition, const float* presence, const float* frequency, int rows, int vocab, cudaStream_t stream);
}
