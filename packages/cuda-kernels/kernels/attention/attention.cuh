#pragma once
// Ignis attention kernels: paged causal attention over a block-table KV cache (bf16/f32, or fp8
// e4m3 with per-layer scales). Semantics: see NOTES.md (identical to
// packages/tensor/src/reference/kernels/attention.ts, except that this kernel does not write the
// new K/V rows: they are in the cache already).
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

namespace ignis::attention {

enum class DType { F32, BF16 };  // element type of q and out, and of a plain cache (bf16 = __nv_bfloat16)

// What k_cache and v_cache hold: elements of `dtype` (Plain), or e4m3 codes (one byte each) of
// x / scale, read as code * scale (k_scale for K, v_scale for V; both 1 for a Plain cache).
enum class KvFormat { Plain, FP8E4M3 };

struct Params {
  DType dtype;
  KvFormat kv_format = KvFormat::Plain;
  float k_scale = 1.f;
  float v_scale = 1.f;
  const void* q;
  const void* k_cache;
  const void* v_cache;
  void* out;
  const int32_t* block_tables;
  const int32_t* seq_lens;
  const int32_t* query_start;  // device pointers
  int num_seqs, num_tokens, num_heads, num_kv_heads, head_dim, block_size, max_blocks_per_seq;
  float scale;
  int sliding_window;   // 0: none
  int max_query_len;    // host-known upper bound of any sequence's query rows this step (1 for pure decode)
  int max_context_len;  // host-known upper bound of seq_lens (may be the cache capacity, larger than the real
                        // lengths: CUDA-graph replays fix it)
};

size_t workspace_bytes(const Params& p);  // scratch the launch needs (split-K partials); may be 0
cudaError_t launch(const Params& p, void* workspace,
                   cudaStream_t stream);  // validates params (return cudaErrorInvalidValue on bad ones), then dispatches

}  // namespace ignis::attention
