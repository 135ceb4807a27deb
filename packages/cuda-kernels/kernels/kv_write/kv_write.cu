#include "common/fp8.cuh"
#include "common/types.cuh"
#include "kv_write/kv_write.cuh"

namespace ignis::kv_write {
namespace {

// T: the activation type of k and v; C: the cache element type (T, or e4m3 codes).
template <typename T, typename C>
__global__ void kv_write_kernel(const T* __restrict__ k, const T* __restrict__ v, const int32_t* __restrict__ slots, C* __restrict__ k_cache,
                                C* __restrict__ v_cache, int row_width, int64_t num_slots, float k_scale, float v_scale) {
  const int64_t slot = slots[blockIdx.x];
  if (slot < 0 || slot >= num_slots) return;
  const size_t src = static_cast<size_t>(blockIdx.x) * row_width;
  const size_t dst = static_cast<size_t>(slot) * row_width;
  for (int i = threadIdx.x; i < row_width; i += blockDim.x) {
    if constexpr (std::is_same_v<C, T>) {
      k_cache[dst + i] = k[src + i];
      v_cache[dst + i] = v[src + i];
    } else {
      k_cache[dst + i] = to_cache<C>(to_f32(k[src + i]), k_scale);
      v_cache[dst + i] = to_cache<C>(to_f32(v[src + i]), v_scale);
    }
  }
}

}  // namespace

cudaError_t launch(DType dtype, const void* k, const void* v, const int32_t* slot_mapping, const KvCache& cache, int rows, int row_width,
                   cudaStream_t stream) {
  if (rows < 0 || row_width <= 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       IGNIS_DISPATCH_KV_CACHE(cache.dtype, dtype, T, C,
                                               kv_write_kernel<T, C><<<rows, row_threads(row_width), 0, stream>>>(
                                                   static_cast<const T*>(k), static_cast<const T*>(v), slot_mapping, static_cast<C*>(cache.k),
                                                   static_cast<C*>(cache.v), row_width, cache.num_slots, cache.k_scale, cache.v_scale)));
  return cudaGetLastError();
}

}  // namespace ignis::kv_write
