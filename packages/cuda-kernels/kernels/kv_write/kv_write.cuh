#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"

namespace ignis::kv_write {
/**
 * Writes this step's K and V rows ([rows, row_width] each, row_width = kv_heads * head_dim) into
 * the paged caches at slots slot_mapping[t] (cache row = slot, so the cache is [slots, row_width]).
 * A slot outside [0, num_slots) is skipped (the engine never sends one; this keeps memory safe).
 */
cudaError_t launch(DType dtype, const void* k, const void* v, const int32_t* slot_mapping, void* k_cache, void* v_cache, int rows,
                   int row_width, int64_t num_slots, cudaStream_t stream);
}
