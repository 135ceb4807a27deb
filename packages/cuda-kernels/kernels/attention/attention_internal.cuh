#pragma once
// Internal pieces shared by attention.cu, paged_attention.cu, flash_prefill.cu and the test.
// Not part of the public interface (attention.cuh).
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "attention.cuh"
#include "common/types.cuh"

namespace ignis::attention::detail {

// ---------------------------------------------------------------------------------------------
// Device helpers (row -> sequence, row -> attended key range). Both kernels and the split-K
// combine use exactly these, so they agree on which keys a row attends.
// ---------------------------------------------------------------------------------------------

// The sequence owning token row t: the largest s with query_start[s] <= t, provided
// t < query_start[s+1]; -1 when t belongs to no sequence (an "orphan" row: out gets zeros).
__device__ __forceinline__ int find_seq(const int32_t* __restrict__ qs, int num_seqs, int t) {
  if (num_seqs <= 0 || __ldg(qs) > t) return -1;
  int lo = 0, hi = num_seqs - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (__ldg(qs + mid) <= t) lo = mid;
    else hi = mid - 1;
  }
  return t < __ldg(qs + lo + 1) ? lo : -1;
}

// Keys [0, key_end) of sequence s may be read: its context length, clamped to what its block
// table can address (a defensive clamp; valid inputs never need it).
__device__ __forceinline__ int key_end(const int32_t* __restrict__ seq_lens, int s, int max_blocks_per_seq,
                                       int bs_log2) {
  const long long cap = static_cast<long long>(max_blocks_per_seq) << bs_log2;
  const long long len = __ldg(seq_lens + s);
  return static_cast<int>(len < cap ? len : cap);
}

// Query position `pos` attends keys [lo, hi] (empty when hi < lo): causal, clipped to the
// sliding window (window == 0: none) and to key_end.
__device__ __forceinline__ void key_range(int pos, int window, int kend, int& lo, int& hi) {
  lo = window > 0 ? max(0, pos + 1 - window) : 0;
  hi = min(pos, kend - 1);
}

// ---------------------------------------------------------------------------------------------
// Host side.
// ---------------------------------------------------------------------------------------------

int sm_count();                      // multiprocessors of the current device (cached per device)
bool is_pow2(int x);
int ilog2(int x);                    // x a power of two
cudaError_t validate(const Params& p);  // cudaSuccess or cudaErrorInvalidValue

// Paged (CUDA-core, flash-decoding) kernel plan: host-known decisions only.
struct PagedPlan {
  int group;        // num_heads / num_kv_heads
  int hc;           // query heads per thread block (a slice of one GQA group)
  int chunks;       // ceil(group / hc): blocks per kv head
  int rows;         // consecutive query rows of one sequence per thread block
  int m;            // query vectors per block = next_pow2(hc * rows), the kernel's template size
  int partition;    // keys per split-K partition (0 when np == 1)
  int np;           // number of partitions (1: no split, out written directly, no workspace)
};
// partition_override > 0 forces that partition size (tests and benchmarks); 0 picks it.
PagedPlan plan_paged(const Params& p, int partition_override);
size_t paged_workspace_bytes(const Params& p, int partition_override);
// tensor_cores = false keeps decode steps over an fp8 cache on the CUDA-core kernel (tests, benchmarks).
cudaError_t launch_paged(const Params& p, void* workspace, cudaStream_t stream, int partition_override,
                         bool tensor_cores = true);

// What a paged-attention block reads (both decode kernels: paged_attention.cu on CUDA cores,
// paged_decode_mma.cu on tensor cores; the same grid, split-K workspace and combine).
struct PagedArgs {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  const int32_t* bt;
  const int32_t* seq_lens;
  const int32_t* qs;
  float* ws_acc;  // [num_tokens * num_heads * np][D]
  float* ws_m;    // [num_tokens * num_heads * np]
  float* ws_l;    // [num_tokens * num_heads * np]
  int num_seqs, num_tokens, num_heads, num_kv_heads, bs_log2, mbps;
  int group, hc, chunks, rows;
  int partition, np;
  int window;
  float qscale;  // scale * log2(e) * k_scale
  float vscale;  // v_scale (1 for a plain cache)
};

// Grid of both decode kernels: (token row, kv head x head slice, partition).
inline dim3 paged_grid(const PagedArgs& a) {
  return dim3(static_cast<unsigned>(a.num_tokens), static_cast<unsigned>(a.num_kv_heads * a.chunks), static_cast<unsigned>(a.np));
}

// What a decode block of paged_grid covers: token row t0, kv head kvh, query heads
// [head0, head0 + nheads) (a slice of that kv head's GQA group), split-K partition `part`.
struct DecodeBlock {
  int t0, kvh, head0, nheads, part;
};

__device__ __forceinline__ DecodeBlock decode_block(const PagedArgs& a) {
  DecodeBlock b;
  b.t0 = blockIdx.x;
  b.kvh = blockIdx.y / a.chunks;
  const int chunk = blockIdx.y - b.kvh * a.chunks;
  b.part = blockIdx.z;
  b.head0 = b.kvh * a.group + chunk * a.hc;
  b.nheads = min(a.hc, a.group - chunk * a.hc);
  return b;
}

// Keys [kb, ke) cut to partition `part` when the context is split (the last one is open-ended).
__device__ __forceinline__ void clip_to_partition(const PagedArgs& a, int part, int& kb, int& ke) {
  if (a.np == 1) return;
  const int ps = part * a.partition;
  kb = max(kb, ps);
  if (part != a.np - 1) ke = min(ke, ps + a.partition);
}

// Stages the block-table entries of positions [c0, c1) of sequence table `bt` in s_table (every
// thread of the block takes part, after the previous chunk's readers are done) and returns the
// first block's index b0: position p's block is s_table[(p >> bs_log2) - b0].
__device__ __forceinline__ int stage_block_table(int* s_table, const int32_t* __restrict__ bt, int c0, int c1, int bs_log2) {
  const int b0 = c0 >> bs_log2;
  const int nb = ((c1 - 1) >> bs_log2) - b0 + 1;  // <= c1 - c0 (block_size >= 1)
  __syncthreads();  // previous chunk's table fully read
  for (int i = threadIdx.x; i < nb; i += blockDim.x) s_table[i] = __ldg(bt + b0 + i);
  __syncthreads();
  return b0;
}

// Output element (t, h, d) of a decode block: the W warps' online-softmax states of its query
// vector v (running max s_m[w * stride + v] in log2 units, sum s_l[...], unnormalised output
// acc(w)) merged, then written to out (one partition: normalised, times v_scale) or to partition
// `part`'s split-K partial (times v_scale: the combine merges partials linearly).
template <typename T, int D, int W, typename Acc>
__device__ __forceinline__ void merge_and_store(const PagedArgs& a, const float* s_m, const float* s_l, int stride, int v, Acc acc,
                                                int t, int h, int d, int part) {
  float mm = -INFINITY;
#pragma unroll
  for (int w = 0; w < W; ++w) mm = fmaxf(mm, s_m[w * stride + v]);
  const float mu = mm == -INFINITY ? 0.f : mm;
  float L = 0.f, A = 0.f;
#pragma unroll
  for (int w = 0; w < W; ++w) {
    const float f = exp2f(s_m[w * stride + v] - mu);
    L = fmaf(s_l[w * stride + v], f, L);
    A = fmaf(acc(w), f, A);
  }
  if (a.np == 1) {
    static_cast<T*>(a.out)[(static_cast<long long>(t) * a.num_heads + h) * D + d] = from_f32<T>(L > 0.f ? A / L * a.vscale : 0.f);
  } else {
    const size_t pi = (static_cast<size_t>(t) * a.num_heads + h) * a.np + part;
    a.ws_acc[pi * D + d] = A * a.vscale;
    if (d == 0) {
      a.ws_m[pi] = mm;
      a.ws_l[pi] = L;
    }
  }
}

// Tensor-core decode (paged_decode_mma.cu): bf16 activations over an fp8 cache, one query row per
// sequence, head_dim 64 or 128. Launches the main kernel only; the caller runs the split-K combine.
bool decode_mma_supports(const Params& p);
cudaError_t launch_decode_mma(const PagedArgs& a, int head_dim, cudaStream_t stream);

// Tensor-core prefill kernel (bf16 only). Query heads per block: 2 when the GQA group size is even
// and head_dim <= 128, else 1; override_hp = 1 forces 1 (tests, benchmarks), 0 picks.
int prefill_heads_per_block(const Params& p, int override_hp);
cudaError_t launch_prefill(const Params& p, cudaStream_t stream, int override_hp);

}  // namespace ignis::attention::detail
