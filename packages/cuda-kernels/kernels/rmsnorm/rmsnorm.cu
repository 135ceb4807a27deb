#include "common/types.cuh"
#include "rmsnorm/rmsnorm.cuh"

namespace ignis::rmsnorm {
namespace {

template <typename T, bool kResidual>
__global__ void rmsnorm_kernel(const T* __restrict__ x, const T* __restrict__ residual, const T* __restrict__ weight, T* __restrict__ sum,
                               T* __restrict__ out, int width, float eps) {
  __shared__ float scratch[32];
  const size_t base = static_cast<size_t>(blockIdx.x) * width;
  float squares = 0.f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    float v = to_f32(x[base + i]);
    if (kResidual) {
      const T s = from_f32<T>(v + to_f32(residual[base + i]));
      sum[base + i] = s;  // read back below by this same thread: no barrier needed
      v = to_f32(s);
    }
    squares += v * v;
  }
  const float total = block_sum(squares, scratch);
  const float inv = rsqrtf(total / static_cast<float>(width) + eps);
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    const float v = kResidual ? to_f32(sum[base + i]) : to_f32(x[base + i]);
    out[base + i] = from_f32<T>(to_f32(weight[i]) * round_to<T>(v * inv));
  }
}

}  // namespace

cudaError_t launch(DType dtype, const void* x, const void* residual, const void* weight, void* sum, void* out, int rows, int width,
                   float eps, cudaStream_t stream) {
  if (rows < 0 || width <= 0 || (residual == nullptr) != (sum == nullptr)) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  const int threads = row_threads(width);
  IGNIS_DISPATCH_FLOAT(dtype, T, {
    auto xs = static_cast<const T*>(x);
    auto rs = static_cast<const T*>(residual);
    auto ws = static_cast<const T*>(weight);
    if (residual) rmsnorm_kernel<T, true><<<rows, threads, 0, stream>>>(xs, rs, ws, static_cast<T*>(sum), static_cast<T*>(out), width, eps);
    else rmsnorm_kernel<T, false><<<rows, threads, 0, stream>>>(xs, rs, ws, nullptr, static_cast<T*>(out), width, eps);
  });
  return cudaGetLastError();
}

}  // namespace ignis::rmsnorm
