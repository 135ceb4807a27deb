#include <cfloat>

#include "penalties/penalties.cuh"

namespace ignis::penalties {
namespace {

constexpr int kThreads = 512;

/** `result` where a finite `before` stays finite: an overflow saturates at +-FLT_MAX (as the reference). */
__device__ __forceinline__ float saturate(float before, float result) {
  return (isfinite(before) && !isfinite(result)) ? copysignf(FLT_MAX, result) : result;
}

/** row[t] -= freq, atomically (one output occurrence), saturated as the other operations are. */
__device__ __forceinline__ void subtract_saturated(float* x, float freq) {
  int* bits = reinterpret_cast<int*>(x);
  int old = *bits, seen;
  do {
    seen = old;
    const float before = __int_as_float(seen);
    old = atomicCAS(bits, seen, __float_as_int(saturate(before, before - freq)));
  } while (old != seen);
}

__global__ void penalties_kernel(const float* __restrict__ logits, float* __restrict__ out, const int32_t* __restrict__ tokens,
                                 const int32_t* __restrict__ start, const int32_t* __restrict__ output_start,
                                 const float* __restrict__ repetition, const float* __restrict__ presence,
                                 const float* __restrict__ frequency, int vocab, int words) {
  extern __shared__ uint32_t bitmaps[];  // [words] seen in prompt or output, then [words] seen in output
  uint32_t* seen_any = bitmaps;
  uint32_t* seen_output = bitmaps + words;
  const int r = blockIdx.x;
  const float rep = repetition[r];
  const float pres = presence[r];
  const float freq = frequency[r];
  float* row = out + static_cast<size_t>(r) * vocab;
  if (out != logits) {
    const float* src = logits + static_cast<size_t>(r) * vocab;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) row[i] = src[i];
    __syncthreads();
  }
  if (rep == 1.f && pres == 0.f && freq == 0.f) return;
  for (int i = threadIdx.x; i < 2 * words; i += blockDim.x) bitmaps[i] = 0u;
  __syncthreads();
  const int first = start[r];
  const int last = start[r + 1];
  const int output_from = first + output_start[r];
  // Phase 1: repetition, once per distinct token of the prompt and the output (the thread whose
  // atomicOr set the bit owns the token).
  for (int i = first + threadIdx.x; i < last; i += blockDim.x) {
    const int t = tokens[i];
    if (t < 0 || t >= vocab) continue;
    const uint32_t bit = 1u << (t & 31);
    const uint32_t old = atomicOr(&seen_any[t >> 5], bit);
    if (!(old & bit) && rep != 1.f) {
      const float x = row[t];
      row[t] = saturate(x, x > 0.f ? x / rep : x * rep);
    }
  }
  __syncthreads();
  // Phase 2: frequency, once per output occurrence (the same operation each time: any order gives
  // the reference's result).
  if (freq != 0.f) {
    for (int i = output_from + threadIdx.x; i < last; i += blockDim.x) {
      const int t = tokens[i];
      if (t >= 0 && t < vocab) subtract_saturated(&row[t], freq);
    }
  }
  __syncthreads();
  // Phase 3: presence, once per distinct output token.
  for (int i = output_from + threadIdx.x; i < last; i += blockDim.x) {
    const int t = tokens[i];
    if (t < 0 || t >= vocab) continue;
    const uint32_t bit = 1u << (t & 31);
    const uint32_t old = atomicOr(&seen_output[t >> 5], bit);
    if (!(old & bit) && pres != 0.f) row[t] = saturate(row[t], row[t] - pres);
  }
}

}  // namespace

cudaError_t launch(const float* logits, float* out, const int32_t* tokens, const int32_t* start, const int32_t* output_start,
                   const float* repetition, const float* presence, const float* frequency, int rows, int vocab, cudaStream_t stream) {
  if (rows < 0 || vocab <= 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  const int words = (vocab + 31) / 32;
  const size_t shared = 2 * static_cast<size_t>(words) * sizeof(uint32_t);
  if (shared > 48 * 1024) {
    // A vocabulary past ~196k tokens needs more than the default 48 KB of shared memory.
    const cudaError_t status = cudaFuncSetAttribute(penalties_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    if (status != cudaSuccess) return status;
  }
  penalties_kernel<<<rows, kThreads, shared, stream>>>(logits, out, tokens, start, output_start, repetition, presence, frequency, vocab, words);
  return cudaGetLastError();
}

}  // namespace ignis::penalties
