#include "common/types.cuh"
#include "embedding/embedding.cuh"

namespace ignis::embedding {
namespace {

template <typename T>
__global__ void embedding_kernel(const int32_t* __restrict__ ids, const T* __restrict__ table, T* __restrict__ out, int width, int vocab) {
  const int row = blockIdx.x;
  const int id = ids[row];
  T* dst = out + static_cast<size_t>(row) * width;
  if (id < 0 || id >= vocab) {
    for (int i = threadIdx.x; i < width; i += blockDim.x) dst[i] = from_f32<T>(0.f);
    return;
  }
  const T* src = table + static_cast<size_t>(id) * width;
  if ((width * sizeof(T)) % 16 == 0) {
    // 16-byte copies: rows start 16-byte aligned because the row size is a multiple of 16.
    const int vectors = static_cast<int>(width * sizeof(T) / 16);
    const uint4* s = reinterpret_cast<const uint4*>(src);
    uint4* d = reinterpret_cast<uint4*>(dst);
    for (int i = threadIdx.x; i < vectors; i += blockDim.x) d[i] = s[i];
  } else {
    for (int i = threadIdx.x; i < width; i += blockDim.x) dst[i] = src[i];
  }
}

}  // namespace

cudaError_t launch(DType dtype, const int32_t* ids, const void* table, void* out, int rows, int width, int vocab, cudaStream_t stream) {
  if (rows < 0 || width <= 0 || vocab <= 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  IGNIS_DISPATCH_FLOAT(dtype, T, embedding_kernel<T><<<rows, 256, 0, stream>>>(ids, static_cast<const T*>(table), static_cast<T*>(out), width, vocab));
  return cudaGetLastError();
}

}  // namespace ignis::embedding
