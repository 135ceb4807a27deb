#include <climits>

#include "top_logprobs/top_logprobs.cuh"

namespace ignis::top_logprobs {
namespace {

constexpr int kThreads = 512;
constexpr int kUnroll = 8;  // loads each thread has in flight: one block must keep enough bytes moving to read its row fast
constexpr int kWarps = kThreads / 32;
constexpr int kCandidates = 2048;  // candidates held in shared memory (16 KB)
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

/** The row's log-sum-exp from each thread's running (max, sum); every thread gets it. */
__device__ float block_lse(float m, float s, float* w_m, float* w_s, float* out) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  for (int offset = 16; offset > 0; offset >>= 1) lse_merge(m, s, __shfl_xor_sync(kFull, m, offset), __shfl_xor_sync(kFull, s, offset));
  if (lane == 0) {
    w_m[warp] = m;
    w_s[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float bm = w_m[0], bs = w_s[0];
    for (int w = 1; w < kWarps; ++w) lse_merge(bm, bs, w_m[w], w_s[w]);
    *out = bm == -INFINITY ? -INFINITY : bm + logf(bs);
  }
  __syncthreads();
  return *out;
}

/** Block-wide best (x, i) by `better`; every thread gets it. */
__device__ void block_best(float& x, int& i, float* w_x, int* w_i) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
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
  x = w_x[0];
  i = w_i[0];
  for (int w = 1; w < kWarps; ++w) {
    if (better(w_x[w], w_i[w], x, i)) {
      x = w_x[w];
      i = w_i[w];
    }
  }
  __syncthreads();  // w_x and w_i are free again
}

__device__ __forceinline__ float clean(float x) { return isnan(x) ? -INFINITY : x; }  // a NaN logit ranks last, like an impossible token

/** Calls visit(x, i) for every element of this thread's strided slice, in index order, kUnroll loads at a time. */
template <typename Visit>
__device__ __forceinline__ void scan_row(const float* __restrict__ row, int vocab, Visit visit) {
  for (int base = threadIdx.x; base < vocab; base += kThreads * kUnroll) {
    float x[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads;
      x[u] = i < vocab ? __ldg(row + i) : -INFINITY;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = base + u * kThreads;
      if (i < vocab) visit(clean(x[u]), i);
    }
  }
}

/**
 * One block per row, three passes, the row read twice:
 * 1. each thread's running log-sum-exp over a strided slice; its max is one of 512 thread maxima;
 * 2. tau = the keep-th largest thread maximum: keep threads each hold an element >= tau, so the
 *    row's top keep are all >= tau; the second read collects the elements >= tau (few, unless
 *    ties abound) into shared memory;
 * 3. keep rounds of block argmax over the candidates, each round taking the best one after the
 *    previous winner in (larger logit, lower index) order, so the result is in the reference's
 *    order. More candidates than fit: each thread keeps a sorted list of its own instead (slow,
 *    exact).
 */
__global__ void __launch_bounds__(kThreads) top_logprobs_kernel(const float* __restrict__ logits, int32_t* __restrict__ out_token,
                                                                float* __restrict__ out_logprob, int vocab, int count) {
  __shared__ float cand_x[kCandidates];
  __shared__ int cand_i[kCandidates];
  __shared__ float thread_max[kThreads];
  __shared__ float w_x[kWarps], w_m[kWarps], w_s[kWarps];
  __shared__ int w_i[kWarps];
  __shared__ float lse_shared, tau_shared;
  __shared__ int ncand;
  const int r = blockIdx.x;
  const float* row = logits + static_cast<size_t>(r) * vocab;
  const int keep = min(count, vocab);

  float m = -INFINITY, s = 0.f;
  scan_row(row, vocab, [&](float x, int) {
    if (x > m) {
      s = s * expf(m - x) + 1.f;
      m = x;
    } else if (x != -INFINITY) {
      s += expf(x - m);
    }
  });
  thread_max[threadIdx.x] = m;
  if (threadIdx.x == 0) ncand = 0;
  const float lse = block_lse(m, s, w_m, w_s, &lse_shared);  // its barriers publish thread_max and ncand

  // tau: the thread maximum with keep-1 maxima above it and at least keep at or above it (of
  // threads that tie, the first writes it).
  int above = 0, at_or_above = 0, tied_before = 0;
  for (int t = 0; t < kThreads; ++t) {
    const float other = thread_max[t];
    above += other > m;
    at_or_above += other >= m;
    tied_before += other == m && t < static_cast<int>(threadIdx.x);
  }
  if (above <= keep - 1 && keep - 1 < at_or_above && tied_before == 0) tau_shared = m;
  __syncthreads();
  const float tau = tau_shared;
  scan_row(row, vocab, [&](float x, int i) {
    if (x >= tau) {
      const int at = atomicAdd(&ncand, 1);
      if (at < kCandidates) {
        cand_x[at] = x;
        cand_i[at] = i;
      }
    }
  });
  __syncthreads();
  const int n = ncand;
  const size_t base = static_cast<size_t>(r) * count;

  if (n <= kCandidates) {
    float prev_x = INFINITY;
    int prev_i = -1;
    for (int k = 0; k < keep; ++k) {
      float x = -INFINITY;
      int i = INT_MAX;
      for (int c = threadIdx.x; c < n; c += kThreads) {
        if (better(prev_x, prev_i, cand_x[c], cand_i[c]) && better(cand_x[c], cand_i[c], x, i)) {
          x = cand_x[c];
          i = cand_i[c];
        }
      }
      block_best(x, i, w_x, w_i);
      if (threadIdx.x == 0) {
        out_token[base + k] = i == INT_MAX ? -1 : i;
        out_logprob[base + k] = i == INT_MAX ? -INFINITY : x - lse;
      }
      prev_x = x;
      prev_i = i;
    }
  } else {
    float lx[kMaxCount];
    int li[kMaxCount];
    for (int k = 0; k < kMaxCount; ++k) {
      lx[k] = -INFINITY;
      li[k] = INT_MAX;
    }
    int held = 0;
    scan_row(row, vocab, [&](float x, int i) {
      if (held < keep || x > lx[keep - 1]) {
        int at = held < keep ? held : keep - 1;
        for (; at > 0 && lx[at - 1] < x; --at) {
          lx[at] = lx[at - 1];
          li[at] = li[at - 1];
        }
        lx[at] = x;
        li[at] = i;
        held += held < keep;
      }
    });
    int head = 0;
    for (int k = 0; k < keep; ++k) {
      float x = head < held ? lx[head] : -INFINITY;
      int i = head < held ? li[head] : INT_MAX;
      block_best(x, i, w_x, w_i);
      if (threadIdx.x == 0) {
        out_token[base + k] = i == INT_MAX ? -1 : i;
        out_logprob[base + k] = i == INT_MAX ? -INFINITY : x - lse;
      }
      if (head < held && li[head] == i) ++head;
    }
  }
  for (int k = keep + threadIdx.x; k < count; k += kThreads) {
    out_token[base + k] = -1;
    out_logprob[base + k] = -INFINITY;
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
