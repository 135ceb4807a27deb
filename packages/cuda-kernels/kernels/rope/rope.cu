#include "common/fp8.cuh"
#include "common/types.cuh"
#include "rope/rope.cuh"

namespace ignis::rope {
namespace {

template <typename T>
__global__ void rope_kernel(const T* __restrict__ x, const int32_t* __restrict__ positions, const float* __restrict__ inv_freq,
                            T* __restrict__ out, int num_heads, int head_dim, int half) {
  const size_t base = static_cast<size_t>(blockIdx.x) * num_heads * head_dim;
  const float position = static_cast<float>(positions[blockIdx.x]);
  for (int i = threadIdx.x; i < num_heads * half; i += blockDim.x) {
    const int head = i / half;
    const int j = i - head * half;
    const float angle = position * inv_freq[j];
    float s, c;
    sincosf(angle, &s, &c);  // accurate range reduction: angles reach 1e5 radians at long contexts
    const size_t lo = base + static_cast<size_t>(head) * head_dim + j;
    const float a = to_f32(x[lo]);
    const float b = to_f32(x[lo + half]);
    out[lo] = from_f32<T>(a * c - b * s);
    out[lo + half] = from_f32<T>(b * c + a * s);
  }
  const int pass = head_dim - 2 * half;
  for (int i = threadIdx.x; i < num_heads * pass; i += blockDim.x) {
    const int head = i / pass;
    const size_t at = base + static_cast<size_t>(head) * head_dim + 2 * half + (i - head * pass);
    out[at] = x[at];
  }
}

}  // namespace

cudaError_t launch(DType dtype, const void* x, const int32_t* positions, const float* inv_freq, void* out, int rows, int num_heads,
                   int head_dim, int half, cudaStream_t stream) {
  if (rows < 0 || num_heads <= 0 || half <= 0 || 2 * half > head_dim) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  const int threads = row_threads(num_heads * half);
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       rope_kernel<T><<<rows, threads, 0, stream>>>(static_cast<const T*>(x), positions, inv_freq, static_cast<T*>(out),
                                                                    num_heads, head_dim, half));
  return cudaGetLastError();
}

}  // namespace ignis::rope

namespace ignis::rope {
namespace {

// T: the activation type of qkv and q_out; C: the cache element type (T, or e4m3 codes, encoded
// from the rotated f32 values directly).
template <typename T, typename C>
__global__ void qkv_to_cache_kernel(const T* __restrict__ qkv, const int32_t* __restrict__ positions, const float* __restrict__ inv_freq,
                                    const int32_t* __restrict__ slots, T* __restrict__ q_out, C* __restrict__ k_cache,
                                    C* __restrict__ v_cache, int num_heads, int num_kv_heads, int head_dim, int half, int64_t num_slots,
                                    float k_scale, float v_scale) {
  const int t = blockIdx.x;
  const int rotated_heads = num_heads + num_kv_heads;
  const int kv_width = num_kv_heads * head_dim;
  const T* row = qkv + static_cast<size_t>(t) * (rotated_heads + num_kv_heads) * head_dim;
  const float position = static_cast<float>(positions[t]);
  const int64_t slot = slots[t];
  const bool write = slot >= 0 && slot < num_slots;
  T* q_row = q_out + static_cast<size_t>(t) * num_heads * head_dim;
  C* k_row = k_cache + static_cast<size_t>(write ? slot : 0) * kv_width;
  // Rotated channel pairs of every q and k head: q heads go to q_out, k heads to the cache.
  for (int i = threadIdx.x; i < rotated_heads * half; i += blockDim.x) {
    const int head = i / half;
    const int j = i - head * half;
    float s, c;
    sincosf(position * inv_freq[j], &s, &c);
    const int at = head * head_dim + j;
    const float a = to_f32(row[at]);
    const float b = to_f32(row[at + half]);
    const float lo = a * c - b * s;
    const float hi = b * c + a * s;
    if (head < num_heads) {
      q_row[at] = from_f32<T>(lo);
      q_row[at + half] = from_f32<T>(hi);
    } else if (write) {
      const int kat = (head - num_heads) * head_dim + j;
      k_row[kat] = to_cache<C>(lo, k_scale);
      k_row[kat + half] = to_cache<C>(hi, k_scale);
    }
  }
  // Channels past the rotary dimension pass through.
  const int pass = head_dim - 2 * half;
  for (int i = threadIdx.x; i < rotated_heads * pass; i += blockDim.x) {
    const int head = i / pass;
    const int at = head * head_dim + 2 * half + (i - head * pass);
    if (head < num_heads) q_row[at] = row[at];
    else if (write) k_row[at - num_heads * head_dim] = to_cache<C>(to_f32(row[at]), k_scale);
  }
  if (!write) return;
  const T* v_row = row + rotated_heads * head_dim;
  C* v_dst = v_cache + static_cast<size_t>(slot) * kv_width;
  for (int i = threadIdx.x; i < kv_width; i += blockDim.x) v_dst[i] = to_cache<C>(to_f32(v_row[i]), v_scale);
}

}  // namespace

cudaError_t qkv_to_cache(DType dtype, const void* qkv, const int32_t* positions, const float* inv_freq, const int32_t* slot_mapping,
                         void* q_out, const KvCache& cache, int rows, int num_heads, int num_kv_heads, int head_dim, int half,
                         cudaStream_t stream) {
  if (rows < 0 || num_heads <= 0 || num_kv_heads <= 0 || half <= 0 || 2 * half > head_dim) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  const int threads = row_threads((num_heads + num_kv_heads) * half);
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       IGNIS_DISPATCH_KV_CACHE(cache.dtype, dtype, T, C,
                                               qkv_to_cache_kernel<T, C><<<rows, threads, 0, stream>>>(
                                                   static_cast<const T*>(qkv), positions, inv_freq, slot_mapping, static_cast<T*>(q_out),
                                                   static_cast<C*>(cache.k), static_cast<C*>(cache.v), num_heads, num_kv_heads, head_dim, half,
                                                   cache.num_slots, cache.k_scale, cache.v_scale)));
  return cudaGetLastError();
}

}  // namespace ignis::rope
