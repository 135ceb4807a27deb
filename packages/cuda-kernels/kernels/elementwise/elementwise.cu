#include "common/types.cuh"
#include "elementwise/elementwise.cuh"

namespace ignis::elementwise {
namespace {

struct Add {
  template <typename T> __device__ static float apply(float a, float b) { return a + b; }
};

struct SiluMul {
  template <typename T> __device__ static float apply(float gate, float up) {
    return round_to<T>(gate / (1.f + expf(-gate))) * up;
  }
};

template <typename Op, typename T>
__global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = from_f32<T>(Op::template apply<T>(to_f32(a[i]), to_f32(b[i])));
  }
}

template <typename Op>
cudaError_t launch_binary(DType dtype, const void* a, const void* b, void* out, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int threads = 256;
  const size_t wanted = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(wanted < 65536 ? wanted : 65536);
  IGNIS_DISPATCH_FLOAT(dtype, T,
                       binary_kernel<Op, T><<<blocks, threads, 0, stream>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                                             static_cast<T*>(out), n));
  return cudaGetLastError();
}

template <typename T>
__global__ void swiglu_kernel(const T* __restrict__ gate_up, T* __restrict__ out, size_t rows, size_t width) {
  const size_t n = rows * width;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const size_t row = i / width;
    const size_t col = i - row * width;
    const T* r = gate_up + row * 2 * width;
    out[i] = from_f32<T>(SiluMul::apply<T>(to_f32(r[col]), to_f32(r[width + col])));
  }
}

}  // namespace

cudaError_t swiglu(DType dtype, const void* gate_up, void* out, size_t rows, size_t width, cudaStream_t stream) {
  const size_t n = rows * width;
  if (n == 0) return cudaSuccess;
  const size_t wanted = (n + 255) / 256;
  const int blocks = static_cast<int>(wanted < 65536 ? wanted : 65536);
  IGNIS_DISPATCH_FLOAT(dtype, T, swiglu_kernel<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(gate_up), static_cast<T*>(out), rows, width));
  return cudaGetLastError();
}

cudaError_t add(DType dtype, const void* a, const void* b, void* out, size_t n, cudaStream_t stream) {
  return launch_binary<Add>(dtype, a, b, out, n, stream);
}

cudaError_t silu_mul(DType dtype, const void* gate, const void* up, void* out, size_t n, cudaStream_t stream) {
  return launch_binary<SiluMul>(dtype, gate, up, out, n, stream);
}

}  // namespace ignis::elementwise
