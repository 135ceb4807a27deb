#include "common/hash.cuh"
#include "common/types.cuh"
#include "convert/convert.cuh"

namespace ignis::convert {
namespace {

template <typename S, typename D>
__global__ void cast_kernel(const S* __restrict__ src, D* __restrict__ dst, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = from_f32<D>(to_f32(src[i]));
}

template <typename D>
__global__ void fill_kernel(D* __restrict__ dst, size_t n, uint32_t seed, float scale, float offset) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint32_t h = fmix32(seed ^ fmix32(static_cast<uint32_t>(i) ^ fmix32(static_cast<uint32_t>(i >> 32) + 0x9e3779b9u)));
    const float u = static_cast<float>(h >> 8) * (2.f / 16777216.f) - 1.f;
    dst[i] = from_f32<D>(offset + scale * u);
  }
}

int grid_for(size_t n) {
  const size_t blocks = (n + 255) / 256;
  return static_cast<int>(blocks < 65536 ? blocks : 65536);
}

template <typename S>
cudaError_t cast_from(const S* src, DType to, void* dst, size_t n, cudaStream_t stream) {
  IGNIS_DISPATCH_FLOAT(to, D, cast_kernel<S, D><<<grid_for(n), 256, 0, stream>>>(src, static_cast<D*>(dst), n));
  return cudaGetLastError();
}

}  // namespace

cudaError_t cast(DType from, const void* src, DType to, void* dst, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  switch (from) {
    case DType::F32: return cast_from(static_cast<const float*>(src), to, dst, n, stream);
    case DType::F16: return cast_from(static_cast<const __half*>(src), to, dst, n, stream);
    case DType::BF16: return cast_from(static_cast<const __nv_bfloat16*>(src), to, dst, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t fill_uniform(DType to, void* dst, size_t n, uint32_t seed, float scale, float offset, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  IGNIS_DISPATCH_FLOAT(to, D, fill_kernel<D><<<grid_for(n), 256, 0, stream>>>(static_cast<D*>(dst), n, seed, scale, offset));
  return cudaGetLastError();
}

}  // namespace ignis::convert
