#include <climits>

#include "top_logprobs/top_logprobs.cuh"

namespace ignis::top_logprobs {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xFFFFFFFFu;

/** Orders candidates: larger logit first, then lower index (an empty slot has index INT_MAX). */
__device__ __forceinline__ bool better(float xa, int ia, float xb, int ib) { return xa > xb || (xa == xb && ia < ib); }

/** Merges two running log-sum-exp states (m: max, s: sum of exp(x - m)). */
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
  const float nm = fmaxf(m, m2);
  if (nm == -INFINITY) return;
  s = s * expf(m - nm) + s2 * expf(m2 - nm);
  m = nm;
}

/**
 * One block per row. Each thread scans a strided slice, keeping its own sorted top `keep` list
 * (insertions are rare once the list is full) and a running log-sum-exp; then `keep` rounds of a
 * block-wide argmax over the threads' list heads pick the row's top entries in order.
 */
__global__ void __launch_bounds__(kThreads) top_logprobs_kernel(const float* __restrict__ logits, int32_t* __restrict__ out_token,
                                                                float* __restrict__ out_logprob, int vocab, int count) {
  __shared__ float w_x[kWarps], w_m[kWarps], w_s[kWarps];
  __shared__ int w_i[kWarps];
  __shared__ float lse;
  __shared__ int winner;
  const int r = blockIdx.x;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const float* row = logits + static_cast<size_t>(r) * vocab;
  const int keep = min(count, vocab);

  float lx[kMaxCount];
  int li[kMaxCount];
  int n = 0;
  float m = -INFINITY, s = 0.f;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    float x = row[i];
    if (isnan(x)) x = -INFINITY;  // a NaN logit ranks last, like an impossible token
    if (x > m) {
      s = s * expf(m - x) + 1.f;
      m = x;
    } else if (x != -INFINITY) {
      s += expf(x - m);
    }
    if (n < keep || x > lx[keep - 1]) {
      int at = n < keep ? n : keep - 1;
      for (; at > 0 && lx[at - 1] < x; --at) {
        lx[at] = lx[at - 1];
        li[at] = li[at - 1];
      }
      lx[at] = x;
      li[at] = i;
      n += n < keep;
    }
  }

  // The row's log-sum-exp.
  for (int offset = 16; offset > 0; offset >>= 1) lse_merge(m, s, __shfl_xor_sync(kFull, m, offset), __shfl_xor_sync(kFull, s, offset));
  if (lane == 0) {
    w_m[warp] = m;
    w_s[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float bm = w_m[0], bs = w_s[0];
    for (int w = 1; w < kWarps; ++w) lse_merge(bm, bs, w_m[w], w_s[w]);
    lse = bm == -INFINITY ? -INFINITY : bm + logf(bs);
  }

  // keep rounds of block argmax over the list heads; the winner's thread moves to its next entry.
  int head = 0;
  for (int k = 0; k < keep; ++k) {
    float x = head < n ? lx[head] : -INFINITY;
    int i = head < n ? li[head] : INT_MAX;
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float ox = __shfl_xor_sync(kFull, x, offset);
      const int oi = __shfl_xor_sync(kFull, i, offset);
      if (better(ox, oi, x, i)) {
        x = ox;
        i = oi;
      }
    }
    if (lane == 0) {
      w_x[warp] = x;
      w_i[warp] = i;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      float bx = w_x[0];
      int bi = w_i[0];
      for (int w = 1; w < kWarps; ++w) {
        if (better(w_x[w], w_i[w], bx, bi)) {
          bx = w_x[w];
          bi = w_i[w];
        }
      }
      const size_t at = static_cast<size_t>(r) * count + k;
      out_token[at] = bi == INT_MAX ? -1 : bi;
      out_logprob[at] = bi == INT_MAX ? -INFINITY : bx - lse;
      winner = bi;
    }
    __syncthreads();
    if (head < n && li[head] == winner) ++head;
  }
  for (int k = keep + threadIdx.x; k < count; k += kThreads) {
    out_token[static_cast<size_t>(r) * count + k] = -1;
    out_logprob[static_cast<size_t>(r) * count + k] = -INFINITY;
  }
}

}  // namespace

cudaError_t launch(const float* logits, int32_t* out_token, float* out_logprob, int rows, int vocab, int count, cudaStream_t stream) {
  if (rows < 0 || vocab <= 0 || count < 0 || count > kMaxCount) return cudaErrorInvalidValue;
  if (rows == 0 || count == 0) return cudaSuccess;
  top_logprobs_kernel<<<rows, kThreads, 0, stream>>>(logits, out_token, out_logprob, vocab, count);
  return cudaGetLastError();
}

}  // namespace ignis::top_logprobs
