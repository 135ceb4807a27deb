#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace ignis::top_logprobs {
/** Most alternatives a row can ask for (the engine allows 20, as OpenAI's API does). */
constexpr int kMaxCount = 32;

/**
 * The `top_logprobs` op (see packages/tensor/src/graph/ops.ts) on f32 logits [rows, vocab]: the
 * `count` largest logits per row (equal ones in index order) and their log-softmax, into
 * [rows, count] outputs; entries past the vocabulary get token -1 and -inf. count 0 launches nothing.
 */
cudaError_t launch(const float* logits, int32_t* out_token, float* out_logprob, int rows, int vocab, int count, cudaStream_t stream);
}
