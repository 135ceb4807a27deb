#include "common/types.cuh"
#include "kv_write/kv_write.cuh"

namespace ignis::kv_write {
namespace {

template <typename T>
__global__ void kv_write_kernel(const T* __restrict__ k, const T* __restrict__ v, const int32_t* __restrict__ slots, T* __restrict__ k_cache,
                                T* __restrict__ v_cache, int row_width, int64_t num_slots) {
  const int64_t slot = slots[blockIdx.x];
  if (slot < 0 || slot >= num_slots) return;
  const size_t src = static_cast<size_t>(blockIdx.x) * row_width;
  const size_t dst = static_cast<size_t>(slot) * row_width;
  for (int i = threadIdx.x; i < row_width; i += blockDim.x) {
    k_cache[dst + i] = k[src + i];
    v_cache[dst + i] = v[src + i];
  }
}

}  // namespace

cudaError_t launch(DType dtype, const void* k, const void* v, const int32_t* slot_mapping, void* k_cache, void* v_cache, int rows,
                   int row_width, int64_t num_slots, cudaStream_t stream) {
  if (rows < 0 || row_width <= 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       kv_write_kernel<T><<<rows, row_threads(row_width), 0, stream>>>(
                           static_cast<const T*>(k), static_cast<const T*>(v), slot_mapping, static_cast<T*>(k_cache),
                           static_cast<T*>(v_cache), row_width, num_slots));
  return cudaGetLastError();
}

}  // namespace ignis::kv_write
