#include "common/types.cuh"
#include "gather/gather.cuh"

namespace ignis::gather {
namespace {

template <typename T>
__global__ void gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ indices, T* __restrict__ out, int width, int source_rows) {
  const int row = indices[blockIdx.x];
  T* dst = out + static_cast<size_t>(blockIdx.x) * width;
  const bool valid = row >= 0 && row < source_rows;
  const T* src = x + static_cast<size_t>(valid ? row : 0) * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) dst[i] = valid ? src[i] : from_f32<T>(0.f);
}

}  // namespace

cudaError_t rows(DType dtype, const void* x, const int32_t* indices, void* out, int count, int width, int source_rows, cudaStream_t stream) {
  if (count < 0 || width <= 0) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       gather_kernel<T><<<count, row_threads(width), 0, stream>>>(static_cast<const T*>(x), indices, static_cast<T*>(out),
                                                                                  width, source_rows));
  return cudaGetLastError();
}

}  // namespace ignis::gather
