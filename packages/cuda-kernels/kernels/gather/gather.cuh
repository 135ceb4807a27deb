#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::gather {
/** out[r] = x[indices[r]] for rows of `width` elements (a row index outside [0, source_rows) gives zeros). */
cudaError_t rows(DType dtype, const void* x, const int32_t* indices, void* out, int count, int width, int source_rows, cudaStream_t stream);
}
