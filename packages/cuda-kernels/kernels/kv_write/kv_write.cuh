#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "common/dtype.h"
#include "common/kv_cache.h"

namespace ignis::kv_write {
/**
 * Writes this step's K and V rows ([rows, row_width] each, row_width = kv_heads * head_dim, of
 * activation dtype `dtype`) into the paged caches at slots slot_mapping[t] (cache row = slot), as
 * `cache` stores them (as they are, or as e4m3 codes of x / scale). A slot outside
 * [0, cache.num_slots) is skipped (the engine never sends one; this keeps memory safe).
 */
cudaError_t launch(DType dtype, const void* k, const void* v, const int32_t* slot_mapping, const KvCache& cache, int rows, int row_width,
                   cudaStream_t stream);
}
