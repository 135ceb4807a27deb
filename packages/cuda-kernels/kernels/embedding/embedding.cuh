#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::embedding {
/** out[t] = table[ids[t]] for rows x width; table is [vocab, width]. An id outside [0, vocab) gives a zero row. */
cudaError_t launch(DType dtype, const int32_t* ids, const void* table, void* out, int rows, int width, int vocab, cudaStream_t stream);
}
