// Paged attention on CUDA cores (flash-decoding), f32 and bf16, any query length, over a plain
// cache (elements of the activation type) or an fp8 e4m3 cache (read as 4 or 8 codes per load: the
// lane layout of the activation's 16-byte vectors; k_scale folded into the softmax scale, v_scale
// into the output).
//
// One thread block = (a tile of `rows` consecutive query rows of one sequence, one slice of `hc`
// query heads of one GQA group, one split-K partition of the context). Its rows x heads are the
// block's M "query vectors" (M = next_pow2(rows * hc) <= 8, a template parameter): they share every
// K/V load, so a decode step reads each sequence's K/V once per GQA group (per partition).
//
// Thread layout inside a warp: TPK consecutive lanes hold one key row (16-byte vectors: 8 bf16 or
// 4 f32 per load), KPW = 32 / TPK keys per warp per load, U keys per lane group unrolled per
// iteration so that 2*U*VPT independent 16-byte loads (K and V) are in flight per thread.
// Scores are reduced across the TPK lanes with xor shuffles; every (warp, lane group) keeps its own
// online-softmax state (running max m, sum l, unnormalised acc over its dims) in base 2
// (q is pre-scaled by scale * log2(e)); the states are merged in the warp (shuffles), then across
// the 4 warps in shared memory.
//
// Split-K: with np > 1 partitions of `partition` keys (the last one open-ended), each block writes
// (m, l, acc) per query vector to the workspace and paged_combine_kernel merges them; with
// np == 1 the block writes out directly. Partitions past a sequence's real length exit at once,
// so the grid may be sized from max_context_len (CUDA graphs).
#include <cuda_bf16.h>

#include <algorithm>
#include <climits>

#include "attention_internal.cuh"
#include "common/fp8.cuh"

namespace ignis::attention::detail {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTableChunk = 512;   // positions whose block-table entries are staged in smem at once
constexpr int kCombineHeads = 4;   // heads per combine block (one warp each)

// 16-byte vector loads and conversion to f32.
template <typename T>
struct Vec;

template <>
struct Vec<float> {
  static constexpr int N = 4;
  using Raw = float4;
  __device__ __forceinline__ static Raw zero() { return make_float4(0.f, 0.f, 0.f, 0.f); }
  __device__ __forceinline__ static Raw load(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
  __device__ __forceinline__ static void to_float(const Raw& r, float* f) {
    f[0] = r.x;
    f[1] = r.y;
    f[2] = r.z;
    f[3] = r.w;
  }
  __device__ __forceinline__ static float from(float x) { return x; }
};

template <>
struct Vec<__nv_bfloat16> {
  static constexpr int N = 8;
  using Raw = uint4;
  __device__ __forceinline__ static Raw zero() { return make_uint4(0u, 0u, 0u, 0u); }
  __device__ __forceinline__ static Raw load(const __nv_bfloat16* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
  }
  // A bf16 is the high half of an f32: element 2i is the low 16 bits of word i (little endian).
  __device__ __forceinline__ static void to_float(const Raw& r, float* f) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
  __device__ __forceinline__ static __nv_bfloat16 from(float x) { return __float2bfloat16_rn(x); }
};

// Loads of cache rows: as many elements per load as one 16-byte vector of the activation type T
// holds, so that a plain and an fp8 cache share the lane layout. A plain cache (C = T) uses T's
// vectors; an e4m3 cache loads 4 (f32) or 8 (bf16) one-byte codes and converts them exactly.
template <typename T, typename C>
struct KvVec : Vec<T> {};

template <>
struct KvVec<float, e4m3_t> {
  using Raw = uint32_t;
  __device__ __forceinline__ static Raw zero() { return 0u; }
  __device__ __forceinline__ static Raw load(const e4m3_t* p) { return __ldg(reinterpret_cast<const unsigned int*>(p)); }
  __device__ __forceinline__ static void to_float(const Raw& r, float* f) { e4m3x4_to_float(r, f); }
};

template <>
struct KvVec<__nv_bfloat16, e4m3_t> {
  using Raw = uint2;
  __device__ __forceinline__ static Raw zero() { return make_uint2(0u, 0u); }
  __device__ __forceinline__ static Raw load(const e4m3_t* p) { return __ldg(reinterpret_cast<const uint2*>(p)); }
  __device__ __forceinline__ static void to_float(const Raw& r, float* f) {
    e4m3x4_to_float(r.x, f);
    e4m3x4_to_float(r.y, f + 4);
  }
};

template <typename T, int D, int M>
struct Cfg {
  static constexpr int VEC = Vec<T>::N;                          // elements per 16-byte load
  static constexpr int TPK = (D / VEC) < 32 ? (D / VEC) : 32;   // lanes per key row
  static constexpr int VPT = D / (VEC * TPK);                    // 16-byte loads per lane per key row
  static constexpr int EPT = VPT * VEC;                          // dims per lane
  static constexpr int KPW = 32 / TPK;                           // keys per warp per load
  // keys per lane group per iteration: 4 16-byte loads of K and as many of V in flight per lane
  static constexpr int U = VPT >= 4 ? 1 : 4 / VPT;
  // Blocks per SM the register budget must allow (M <= 4: 3 blocks = 12 warps, <= 168 registers;
  // M == 8 needs ~240 registers: 2 blocks).
  static constexpr int MIN_BLOCKS = M >= 8 ? 2 : 3;  // plan_paged assumes these values
  static constexpr int KEYS_PER_ITER = kWarps * KPW * U;         // keys per block per iteration
  static_assert(TPK * VPT * VEC == D, "head_dim split");
  static_assert(kTableChunk % KEYS_PER_ITER == 0, "table chunk must hold whole iterations");
};

__device__ __forceinline__ float safe_max(float m) { return m == -INFINITY ? 0.f : m; }

// T: the activation type (q, out); KC: the cache element type (T, or e4m3 codes).
template <typename T, typename KC, int D, int M>
__global__ void __launch_bounds__(kThreads, (Cfg<T, D, M>::MIN_BLOCKS)) paged_attention_kernel(const PagedArgs a) {
  using C = Cfg<T, D, M>;
  using V = Vec<T>;
  using KV = KvVec<T, KC>;
  using Raw = typename KV::Raw;
  constexpr int EPT = C::EPT, VPT = C::VPT, U = C::U, VEC = C::VEC, TPK = C::TPK, KPW = C::KPW;

  __shared__ int s_table[kTableChunk];
  __shared__ __align__(16) float s_acc[kWarps][M][D];
  __shared__ float s_m[kWarps][M];
  __shared__ float s_l[kWarps][M];

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int li = lane % TPK;  // lane within its key's lane group
  const int kg = lane / TPK;  // key slot of the lane group within the warp
  const auto [t0, kvh, head0, nheads, part] = decode_block(a);
  const bool direct = a.np == 1;
  const long long row_stride = static_cast<long long>(a.num_heads) * D;
  T* __restrict__ out = static_cast<T*>(a.out);

  const int s = find_seq(a.qs, a.num_seqs, t0);
  if (s < 0) {  // row of no sequence: zeros (split mode: the combine kernel writes them)
    if (direct) {
      for (int i = tid; i < nheads * D; i += kThreads) out[t0 * row_stride + head0 * D + i] = V::from(0.f);
    }
    return;
  }
  const int qb = __ldg(a.qs + s);
  const int qe = __ldg(a.qs + s + 1);
  const int j0 = t0 - qb;
  if (j0 % a.rows != 0) return;  // rows t0.. belong to the block of their tile's first row
  const int nrows = min(a.rows, qe - t0);
  const int kend = key_end(a.seq_lens, s, a.mbps, a.bs_log2);
  const int pos0 = __ldg(a.seq_lens + s) - (qe - qb) + j0;

  // Query vector v = (row v / hc, head v % hc). Its keys [v_lo, v_hi]; empty when inactive.
  int v_lo[M], v_hi[M];
  int blo = INT_MAX, bhi = -1;
#pragma unroll
  for (int v = 0; v < M; ++v) {
    const int r = v / a.hc;
    const int hh = v - r * a.hc;
    v_lo[v] = 1;
    v_hi[v] = 0;
    if (r < nrows && hh < nheads) {
      key_range(pos0 + r, a.window, kend, v_lo[v], v_hi[v]);
      if (v_lo[v] <= v_hi[v]) {
        blo = min(blo, v_lo[v]);
        bhi = max(bhi, v_hi[v]);
      }
    }
  }
  int kb = blo;
  int ke = bhi + 1;  // the block reads keys [kb, ke)
  clip_to_partition(a, part, kb, ke);
  if (kb >= ke) {  // nothing to attend in this partition (or at all)
    if (direct) {
      for (int i = tid; i < M * D; i += kThreads) {
        const int v = i / D;
        const int r = v / a.hc;
        const int hh = v - r * a.hc;
        if (r < nrows && hh < nheads) out[(t0 + r) * row_stride + (head0 + hh) * D + (i - v * D)] = V::from(0.f);
      }
    }
    return;
  }

  // q, pre-scaled so that scores are in log2 units.
  float qf[M][EPT];
#pragma unroll
  for (int v = 0; v < M; ++v) {
    const int r = v / a.hc;
    const int hh = v - r * a.hc;
    const bool active = r < nrows && hh < nheads;
    const T* qp = static_cast<const T*>(a.q) + (t0 + r) * row_stride + (head0 + hh) * D;
#pragma unroll
    for (int j = 0; j < VPT; ++j) {
      const typename V::Raw raw = active ? V::load(qp + (j * TPK + li) * VEC) : V::zero();
      V::to_float(raw, &qf[v][j * VEC]);
    }
#pragma unroll
    for (int e = 0; e < EPT; ++e) qf[v][e] *= a.qscale;
  }

  float m_run[M], l_run[M], acc[M][EPT];
#pragma unroll
  for (int v = 0; v < M; ++v) {
    m_run[v] = -INFINITY;
    l_run[v] = 0.f;
#pragma unroll
    for (int e = 0; e < EPT; ++e) acc[v][e] = 0.f;
  }

  const long long kv_row_stride = static_cast<long long>(a.num_kv_heads) * D;
  const KC* __restrict__ kbase = static_cast<const KC*>(a.k) + kvh * D + li * VEC;
  const KC* __restrict__ vbase = static_cast<const KC*>(a.v) + kvh * D + li * VEC;
  const int32_t* __restrict__ bt = a.bt + static_cast<long long>(s) * a.mbps;
  const int bs_mask = (1 << a.bs_log2) - 1;

  for (int c0 = kb; c0 < ke; c0 += kTableChunk) {
    const int c1 = min(ke, c0 + kTableChunk);
    const int b0 = stage_block_table(s_table, bt, c0, c1, a.bs_log2);

    // The trip count depends on the warp only: shuffles below see all 32 lanes.
    for (int base = c0 + warp * (KPW * U); base < c1; base += C::KEYS_PER_ITER) {
      Raw kr[U][VPT], vr[U][VPT];
      int kpos[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int pos = base + u * KPW + kg;
        kpos[u] = pos;
        if (pos < c1) {
          const long long row = (static_cast<long long>(s_table[(pos >> a.bs_log2) - b0]) << a.bs_log2) | (pos & bs_mask);
          const KC* kp = kbase + row * kv_row_stride;
          const KC* vp = vbase + row * kv_row_stride;
#pragma unroll
          for (int j = 0; j < VPT; ++j) {
            kr[u][j] = KV::load(kp + j * TPK * VEC);
            vr[u][j] = KV::load(vp + j * TPK * VEC);
          }
        } else {
#pragma unroll
          for (int j = 0; j < VPT; ++j) {
            kr[u][j] = KV::zero();
            vr[u][j] = KV::zero();
          }
        }
      }

      float sc[M][U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        float kf[EPT];
#pragma unroll
        for (int j = 0; j < VPT; ++j) KV::to_float(kr[u][j], &kf[j * VEC]);
#pragma unroll
        for (int v = 0; v < M; ++v) {
          float d0 = 0.f, d1 = 0.f;  // two chains for ILP
#pragma unroll
          for (int e = 0; e < EPT; e += 2) {
            d0 = fmaf(qf[v][e], kf[e], d0);
            d1 = fmaf(qf[v][e + 1], kf[e + 1], d1);
          }
          sc[v][u] = d0 + d1;
        }
      }
#pragma unroll
      for (int off = TPK / 2; off >= 1; off >>= 1) {
#pragma unroll
        for (int v = 0; v < M; ++v) {
#pragma unroll
          for (int u = 0; u < U; ++u) sc[v][u] += __shfl_xor_sync(0xffffffffu, sc[v][u], off);
        }
      }

#pragma unroll
      for (int v = 0; v < M; ++v) {
        float mx = -INFINITY;
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const bool ok = kpos[u] < c1 && kpos[u] >= v_lo[v] && kpos[u] <= v_hi[v];
          sc[v][u] = ok ? sc[v][u] : -INFINITY;
          mx = fmaxf(mx, sc[v][u]);
        }
        const float mn = fmaxf(m_run[v], mx);
        const float mu = safe_max(mn);
        const float alpha = exp2f(m_run[v] - mu);
        float psum = 0.f;
#pragma unroll
        for (int u = 0; u < U; ++u) {
          sc[v][u] = exp2f(sc[v][u] - mu);  // now the probability p (0 where masked)
          psum += sc[v][u];
        }
        l_run[v] = fmaf(l_run[v], alpha, psum);
#pragma unroll
        for (int e = 0; e < EPT; ++e) acc[v][e] *= alpha;
        m_run[v] = mn;
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        float vf[EPT];
#pragma unroll
        for (int j = 0; j < VPT; ++j) KV::to_float(vr[u][j], &vf[j * VEC]);
#pragma unroll
        for (int v = 0; v < M; ++v) {
#pragma unroll
          for (int e = 0; e < EPT; ++e) acc[v][e] = fmaf(sc[v][u], vf[e], acc[v][e]);
        }
      }
    }
  }

  // Merge the lane groups of the warp (they hold disjoint keys, the same dims).
#pragma unroll
  for (int off = TPK; off < 32; off <<= 1) {
#pragma unroll
    for (int v = 0; v < M; ++v) {
      const float mo = __shfl_xor_sync(0xffffffffu, m_run[v], off);
      const float lo = __shfl_xor_sync(0xffffffffu, l_run[v], off);
      const float mn = fmaxf(m_run[v], mo);
      const float mu = safe_max(mn);
      const float f1 = exp2f(m_run[v] - mu);
      const float f2 = exp2f(mo - mu);
      l_run[v] = l_run[v] * f1 + lo * f2;
#pragma unroll
      for (int e = 0; e < EPT; ++e) {
        const float ao = __shfl_xor_sync(0xffffffffu, acc[v][e], off);
        acc[v][e] = acc[v][e] * f1 + ao * f2;
      }
      m_run[v] = mn;
    }
  }
  if (kg == 0) {
#pragma unroll
    for (int v = 0; v < M; ++v) {
#pragma unroll
      for (int j = 0; j < VPT; ++j) {
        float* dst = &s_acc[warp][v][(j * TPK + li) * VEC];
#pragma unroll
        for (int e = 0; e < VEC; e += 4) {
          *reinterpret_cast<float4*>(dst + e) =
              make_float4(acc[v][j * VEC + e], acc[v][j * VEC + e + 1], acc[v][j * VEC + e + 2], acc[v][j * VEC + e + 3]);
        }
      }
      if (li == 0) {
        s_m[warp][v] = m_run[v];
        s_l[warp][v] = l_run[v];
      }
    }
  }
  __syncthreads();

  // Merge the warps; write out (direct) or the partial (split-K).
  for (int i = tid; i < M * D; i += kThreads) {
    const int v = i / D;
    const int d = i - v * D;
    const int r = v / a.hc;
    const int hh = v - r * a.hc;
    if (r >= nrows || hh >= nheads) continue;
    merge_and_store<T, D, kWarps>(a, &s_m[0][0], &s_l[0][0], M, v, [&](int w) { return s_acc[w][v][d]; }, t0 + r, head0 + hh, d, part);
  }
}

// Merges the split-K partials of (row blockIdx.x, heads blockIdx.y * 4 + warp). Reads only the
// partitions that intersect the row's key range: exactly those whose blocks wrote this row.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) paged_combine_kernel(const PagedArgs a) {
  using V = Vec<T>;
  const int warp = threadIdx.x >> 5;
  const int lane = threadIdx.x & 31;
  const int t = blockIdx.x;
  const int h = blockIdx.y * kCombineHeads + warp;
  if (h >= a.num_heads) return;  // warp-uniform; no block-level sync below
  T* __restrict__ out = static_cast<T*>(a.out) + (static_cast<long long>(t) * a.num_heads + h) * D;

  int lo = 1, hi = 0;
  const int s = find_seq(a.qs, a.num_seqs, t);
  if (s >= 0) {
    const int qb = __ldg(a.qs + s);
    const int qe = __ldg(a.qs + s + 1);
    const int kend = key_end(a.seq_lens, s, a.mbps, a.bs_log2);
    key_range(__ldg(a.seq_lens + s) - (qe - qb) + (t - qb), a.window, kend, lo, hi);
  }
  if (lo > hi) {
    for (int d = lane; d < D; d += 32) out[d] = V::from(0.f);
    return;
  }
  const int pf = min(lo / a.partition, a.np - 1);
  const int pl = min(hi / a.partition, a.np - 1);
  const size_t base = (static_cast<size_t>(t) * a.num_heads + h) * a.np;

  float mm = -INFINITY;
  for (int i = pf + lane; i <= pl; i += 32) mm = fmaxf(mm, a.ws_m[base + i]);
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1) mm = fmaxf(mm, __shfl_xor_sync(0xffffffffu, mm, off));
  const float mu = safe_max(mm);
  float L = 0.f;
  for (int i = pf + lane; i <= pl; i += 32) L = fmaf(a.ws_l[base + i], exp2f(a.ws_m[base + i] - mu), L);
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1) L += __shfl_xor_sync(0xffffffffu, L, off);
  const float inv = L > 0.f ? 1.f / L : 0.f;
  for (int d = lane; d < D; d += 32) {
    float A = 0.f;
    for (int i = pf; i <= pl; ++i) A = fmaf(a.ws_acc[(base + i) * D + d], exp2f(a.ws_m[base + i] - mu), A);
    out[d] = V::from(A * inv);
  }
}

template <typename T, typename KC, int D, int M>
cudaError_t run(const PagedArgs& a, cudaStream_t stream) {
  paged_attention_kernel<T, KC, D, M><<<paged_grid(a), kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t combine(const PagedArgs& a, int d, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(a.num_tokens), static_cast<unsigned>((a.num_heads + kCombineHeads - 1) / kCombineHeads));
  switch (d) {
    case 16: paged_combine_kernel<T, 16><<<grid, kThreads, 0, stream>>>(a); break;
    case 32: paged_combine_kernel<T, 32><<<grid, kThreads, 0, stream>>>(a); break;
    case 64: paged_combine_kernel<T, 64><<<grid, kThreads, 0, stream>>>(a); break;
    case 128: paged_combine_kernel<T, 128><<<grid, kThreads, 0, stream>>>(a); break;
    case 256: paged_combine_kernel<T, 256><<<grid, kThreads, 0, stream>>>(a); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

template <typename T, typename KC, int D>
cudaError_t run_m(const PagedArgs& a, int m, cudaStream_t stream) {
  switch (m) {
    case 1: return run<T, KC, D, 1>(a, stream);
    case 2: return run<T, KC, D, 2>(a, stream);
    case 4: return run<T, KC, D, 4>(a, stream);
    case 8: return run<T, KC, D, 8>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <typename T, typename KC>
cudaError_t run_d(const PagedArgs& a, int d, int m, cudaStream_t stream) {
  switch (d) {
    case 16: return run_m<T, KC, 16>(a, m, stream);
    case 32: return run_m<T, KC, 32>(a, m, stream);
    case 64: return run_m<T, KC, 64>(a, m, stream);
    case 128: return run_m<T, KC, 128>(a, m, stream);
    case 256: return run_m<T, KC, 256>(a, m, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

PagedPlan plan_paged(const Params& p, int partition_override) {
  PagedPlan pl{};
  pl.group = p.num_heads / p.num_kv_heads;
  pl.chunks = (pl.group + 7) / 8;
  pl.hc = (pl.group + pl.chunks - 1) / pl.chunks;  // <= 8
  pl.rows = 1;
  if (p.max_query_len > 1) pl.rows = std::min(std::max(1, 8 / pl.hc), p.max_query_len);
  pl.m = 1;
  while (pl.m < pl.hc * pl.rows) pl.m <<= 1;  // <= 8

  // Split-K choice, from host-known sizes only. cap = blocks the GPU holds at once (the register
  // budget guarantees MIN_BLOCKS per SM). Without a split, `base` blocks of max_context_len keys
  // each; that is kept only when it is >= 4 waves (the last, partial wave costs little). Else the
  // context is cut into partitions of 512, 256 or 128 keys, the largest giving >= 4 waves, or 128
  // (few sequences: one wave, as many blocks as possible).
  const long long row_blocks =
      pl.rows == 1 ? p.num_tokens
                   : std::min<long long>(p.num_tokens, (p.num_tokens + pl.rows - 1) / pl.rows + p.num_seqs);
  const long long base = row_blocks * p.num_kv_heads * pl.chunks;
  const long long cap = static_cast<long long>(sm_count()) * (pl.m >= 8 ? 2 : 3);
  const long long ctx = p.max_context_len;
  long long part = 0;
  if (partition_override > 0) {
    part = partition_override;
  } else if (base < 4 * cap) {
    part = 512;
    while (part > 128 && base * ((ctx + part - 1) / part) < 4 * cap) part >>= 1;
  }
  long long np = part > 0 ? (ctx + part - 1) / part : 1;
  while (np > 65535) {  // grid.z limit
    part <<= 1;
    np = (ctx + part - 1) / part;
  }
  if (np <= 1) {
    np = 1;
    part = 0;
  }
  pl.partition = static_cast<int>(part);
  pl.np = static_cast<int>(np);
  return pl;
}

size_t paged_workspace_bytes(const Params& p, int partition_override) {
  const PagedPlan pl = plan_paged(p, partition_override);
  if (pl.np <= 1) return 0;
  const size_t total = static_cast<size_t>(p.num_tokens) * p.num_heads * pl.np;
  return total * (static_cast<size_t>(p.head_dim) + 2) * sizeof(float);
}

cudaError_t launch_paged(const Params& p, void* workspace, cudaStream_t stream, int partition_override, bool tensor_cores) {
  const cudaError_t verr = validate(p);
  if (verr != cudaSuccess) return verr;
  if (p.num_tokens == 0) return cudaSuccess;
  const PagedPlan pl = plan_paged(p, partition_override);
  PagedArgs a{};
  a.q = p.q;
  a.k = p.k_cache;
  a.v = p.v_cache;
  a.out = p.out;
  a.bt = p.block_tables;
  a.seq_lens = p.seq_lens;
  a.qs = p.query_start;
  a.num_seqs = p.num_seqs;
  a.num_tokens = p.num_tokens;
  a.num_heads = p.num_heads;
  a.num_kv_heads = p.num_kv_heads;
  a.bs_log2 = ilog2(p.block_size);
  a.mbps = p.max_blocks_per_seq;
  a.group = pl.group;
  a.hc = pl.hc;
  a.chunks = pl.chunks;
  a.rows = pl.rows;
  a.partition = pl.partition;
  a.np = pl.np;
  a.window = p.sliding_window;
  a.qscale = p.scale * 1.4426950408889634f * p.k_scale;
  a.vscale = p.v_scale;
  if (pl.np > 1) {
    if (workspace == nullptr || (reinterpret_cast<uintptr_t>(workspace) & 15u) != 0) return cudaErrorInvalidValue;
    const size_t total = static_cast<size_t>(p.num_tokens) * p.num_heads * pl.np;
    a.ws_acc = static_cast<float*>(workspace);
    a.ws_m = a.ws_acc + total * p.head_dim;
    a.ws_l = a.ws_m + total;
  }
  const bool fp8 = p.kv_format == KvFormat::FP8E4M3;
  cudaError_t err;
  if (tensor_cores && decode_mma_supports(p)) err = launch_decode_mma(a, p.head_dim, stream);
  else if (p.dtype == DType::F32) err = fp8 ? run_d<float, e4m3_t>(a, p.head_dim, pl.m, stream) : run_d<float, float>(a, p.head_dim, pl.m, stream);
  else err = fp8 ? run_d<__nv_bfloat16, e4m3_t>(a, p.head_dim, pl.m, stream) : run_d<__nv_bfloat16, __nv_bfloat16>(a, p.head_dim, pl.m, stream);
  if (err != cudaSuccess || a.np == 1) return err;
  return p.dtype == DType::F32 ? combine<float>(a, p.head_dim, stream) : combine<__nv_bfloat16>(a, p.head_dim, stream);
}

}  // namespace ignis::attention::detail
