#include <cuda_fp8.h>

#include "common/types.cuh"
#include "quantize/quantize.cuh"

namespace ignis::quantize {
namespace {

constexpr int kThreads = 256;
/** Threads per (row, group) when there are few of them (decode at batch 1: one block per row must stream the whole row). */
constexpr int kFewGroupsThreads = 1024;

__device__ __forceinline__ float block_max(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float all = lane < (blockDim.x >> 5) ? scratch[lane] : 0.f;
  for (int offset = 16; offset > 0; offset >>= 1) all = fmaxf(all, __shfl_xor_sync(0xffffffffu, all, offset));
  return all;
}

// One block per (row, group): the group's largest magnitude, its scale, then its codes. The group
// is read twice; the second read comes from L1/L2.
template <typename T>
__global__ void rows_fp8_kernel(const T* __restrict__ x, uint8_t* __restrict__ codes, float* __restrict__ scales, int64_t cols,
                                int64_t group, const float* __restrict__ fixed_scale) {
  __shared__ float scratch[32];
  __shared__ float shared_scale;
  const int64_t row = blockIdx.x;
  const int64_t begin = row * cols + static_cast<int64_t>(blockIdx.y) * group;
  const int64_t end = row * cols + min(cols, (static_cast<int64_t>(blockIdx.y) + 1) * group);
  if (fixed_scale == nullptr) {
    float max = 0.f;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) max = fmaxf(max, fabsf(to_f32(x[i])));
    max = block_max(max, scratch);
    if (threadIdx.x == 0) shared_scale = max == 0.f ? 1.f : __fdiv_rn(max, kFp8E4m3Max);
  } else if (threadIdx.x == 0) {
    shared_scale = *fixed_scale;
  }
  __syncthreads();
  const float scale = shared_scale;
  if (threadIdx.x == 0) scales[row * gridDim.y + blockIdx.y] = scale;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    codes[i] = __nv_cvt_float_to_fp8(__fdiv_rn(to_f32(x[i]), scale), __NV_SATFINITE, __NV_E4M3);
  }
}

template <typename T>
__global__ void scale_rows_cols_kernel(T* __restrict__ y, const float* __restrict__ row_scale, const float* __restrict__ col_scale,
                                       const T* __restrict__ bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t r = i / cols;
    const int64_t c = i - r * cols;
    float v = to_f32(y[i]) * __fmul_rn(row_scale[r], col_scale[c]);
    if (bias != nullptr) v += to_f32(bias[c]);
    y[i] = from_f32<T>(v);
  }
}

}  // namespace

cudaError_t rows_fp8(DType from, const void* x, uint8_t* codes, float* scales, int64_t rows, int64_t cols, int64_t group,
                     const float* fixed_scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (group <= 0 || group > cols) group = cols;
  const int64_t groups = (cols + group - 1) / group;
  if (groups > 65535 || rows > 0x7fffffff) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(groups));
  const int threads = rows * groups < 128 ? kFewGroupsThreads : kThreads;
  switch (from) {
    case DType::F32:
      rows_fp8_kernel<<<grid, threads, 0, stream>>>(static_cast<const float*>(x), codes, scales, cols, group, fixed_scale);
      break;
    case DType::BF16:
      rows_fp8_kernel<<<grid, threads, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), codes, scales, cols, group, fixed_scale);
      break;
    case DType::F16:
      rows_fp8_kernel<<<grid, threads, 0, stream>>>(static_cast<const __half*>(x), codes, scales, cols, group, fixed_scale);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t scale_rows_cols(DType dtype, void* y, const float* row_scale, const float* col_scale, const void* bias, int64_t rows, int64_t cols,
                            cudaStream_t stream) {
  const int64_t n = rows * cols;
  if (n == 0) return cudaSuccess;
  const int blocks = static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65536));
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       scale_rows_cols_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<T*>(y), row_scale, col_scale,
                                                                              static_cast<const T*>(bias), rows, cols));
  return cudaGetLastError();
}

}  // namespace ignis::quantize
