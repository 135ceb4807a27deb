#pragma once
#include <cstddef>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::elementwise {
/** out = round(a + b) over n elements. */
cudaError_t add(DType dtype, const void* a, const void* b, void* out, size_t n, cudaStream_t stream);
/** out = round(round(silu(gate)) * up) over n elements, silu(x) = x / (1 + exp(-x)) in f32 (PyTorch's rounding). */
cudaError_t silu_mul(DType dtype, const void* gate, const void* up, void* out, size_t n, cudaStream_t stream);
/** silu_mul over packed rows: gate_up is [rows, 2 * width] holding [gate | up]; out is [rows, width]. */
cudaError_t swiglu(DType dtype, const void* gate_up, void* out, size_t rows, size_t width, cudaStream_t stream);
}
