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
