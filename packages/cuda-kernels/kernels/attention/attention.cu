// Entry points of the attention kernels: validation and dispatch.
//   dtype BF16 and max_query_len > 1  -> flash_prefill.cu (tensor cores, FlashAttention-2 style)
//   BF16 decode over an fp8 cache, head_dim 64/128 -> paged_decode_mma.cu (tensor cores)
//   otherwise (other decode steps, every F32 step) -> paged_attention.cu (CUDA cores, flash-decoding)
#include <atomic>
#include <cmath>

#include "attention.cuh"
#include "attention_internal.cuh"

namespace ignis::attention {
namespace detail {

int sm_count() {
  static std::atomic<int> cache[64];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 132;
  if (dev >= 0 && dev < 64) {
    const int cached = cache[dev].load(std::memory_order_relaxed);
    if (cached > 0) return cached;
  }
  int n = 0;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) n = 132;
  if (dev >= 0 && dev < 64) cache[dev].store(n, std::memory_order_relaxed);
  return n;
}

bool is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

int ilog2(int x) {
  int l = 0;
  while ((1 << l) < x) ++l;
  return l;
}

static bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

cudaError_t validate(const Params& p) {
  const cudaError_t bad = cudaErrorInvalidValue;
  if (p.dtype != DType::F32 && p.dtype != DType::BF16) return bad;
  if (p.num_tokens < 0 || p.num_seqs < 0) return bad;
  if (p.num_heads < 1 || p.num_kv_heads < 1 || p.num_heads % p.num_kv_heads != 0) return bad;
  if (p.head_dim != 16 && p.head_dim != 32 && p.head_dim != 64 && p.head_dim != 128 && p.head_dim != 256) return bad;
  if (!is_pow2(p.block_size) || p.block_size > 1024) return bad;
  if (p.sliding_window < 0 || p.max_query_len < 1 || p.max_context_len < 1) return bad;
  if (!std::isfinite(p.scale)) return bad;
  if (p.kv_format != KvFormat::Plain && p.kv_format != KvFormat::FP8E4M3) return bad;
  if (p.kv_format == KvFormat::Plain && (p.k_scale != 1.f || p.v_scale != 1.f)) return bad;  // a plain cache is not scaled
  if (!(std::isfinite(p.k_scale) && p.k_scale > 0.f && std::isfinite(p.v_scale) && p.v_scale > 0.f)) return bad;
  if (p.num_tokens == 0) return cudaSuccess;  // nothing to read or write
  if (p.q == nullptr || p.out == nullptr || !aligned16(p.q) || !aligned16(p.out)) return bad;
  if (p.num_seqs > 0) {
    if (p.max_blocks_per_seq < 1) return bad;
    if (p.k_cache == nullptr || p.v_cache == nullptr || !aligned16(p.k_cache) || !aligned16(p.v_cache)) return bad;
    if (p.block_tables == nullptr || p.seq_lens == nullptr || p.query_start == nullptr) return bad;
  }
  // Grid limits (x: 2^31-1, y and z: 65535). See the launchers for the grid shapes.
  const long long group = p.num_heads / p.num_kv_heads;
  const long long chunks = (group + 7) / 8;
  if (static_cast<long long>(p.num_kv_heads) * chunks > 65535) return bad;
  const long long pieces = (static_cast<long long>(p.num_tokens) + 63) / 64 + p.num_seqs;
  if (pieces * p.num_heads > 0x7fffffffLL) return bad;
  if ((static_cast<long long>(p.num_heads) + 3) / 4 > 65535) return bad;  // split-K combine grid.y
  return cudaSuccess;
}

}  // namespace detail

static bool use_prefill(const Params& p) { return p.dtype == DType::BF16 && p.max_query_len > 1; }

size_t workspace_bytes(const Params& p) {
  if (detail::validate(p) != cudaSuccess || p.num_tokens == 0 || use_prefill(p)) return 0;
  return detail::paged_workspace_bytes(p, 0);
}

cudaError_t launch(const Params& p, void* workspace, cudaStream_t stream) {
  const cudaError_t err = detail::validate(p);
  if (err != cudaSuccess) return err;
  if (p.num_tokens == 0) return cudaSuccess;
  if (use_prefill(p)) return detail::launch_prefill(p, stream, 0);
  return detail::launch_paged(p, workspace, stream, 0);
}

}  // namespace ignis::attention
