#pragma once
// Internal pieces shared by attention.cu, paged_attention.cu, flash_prefill.cu and the test.
// Not part of the public interface (attention.cuh).
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "attention.cuh"

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
cudaError_t launch_paged(const Params& p, void* workspace, cudaStream_t stream, int partition_override);

// Tensor-core prefill kernel (bf16 only). Query heads per block: 2 when the GQA group size is even
// and head_dim <= 128, else 1; override_hp = 1 forces 1 (tests, benchmarks), 0 picks.
int prefill_heads_per_block(const Params& p, int override_hp);
cudaError_t launch_prefill(const Params& p, cudaStream_t stream, int override_hp);

}  // namespace ignis::attention::detail
