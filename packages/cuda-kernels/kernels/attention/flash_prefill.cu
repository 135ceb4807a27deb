// Prefill / mixed-batch attention on tensor cores (bf16 in, f32 accumulate), FlashAttention-2 style.
//
// One thread block (4 warps) = (a "piece": up to 64 consecutive query rows of one sequence, HP query
// heads of one GQA group; HP = 2 when the group size is even and head_dim <= 128, else 1). Warp w
// owns tile rows [16w, 16w+16) of each of the HP heads: every K/V fragment it loads from shared
// memory feeds HP MMAs, which halves the shared-memory traffic per MMA when HP = 2. K/V tiles of
// BN keys (64; 32 for head_dim 256 and for two heads of head_dim 128, to fit the registers) are
// gathered through the block table into shared memory with cp.async (16-byte chunks, two stages:
// tile j+1 loads while tile j is computed; the block-table entries of tile j+2 are read into
// registers meanwhile). An fp8 e4m3 cache is staged the same way as codes (16 per chunk) and each
// thread converts the chunks it staged to bf16 (exact) into one bf16 stage right before the tile
// is used; k_scale is folded into the softmax scale and v_scale into the final normalisation. S = Q K^T and O += P V use mma.sync.m16n8k16 (bf16 x bf16 -> f32) fed
// by ldmatrix; the online softmax (base 2) stays in registers; P is re-packed from the S
// accumulators into A fragments without touching shared memory.
//
// Pieces: the token rows are cut at every multiple of 64 and at every sequence start. Grid entries
// [0, ceil(num_tokens/64)) are the 64-aligned chunks (taken last-first, so the heaviest causal
// tiles start first); entries [nchunks, nchunks + num_seqs) are the pieces that start at a sequence
// start which is not a multiple of 64. Every row belongs to exactly one piece; a grid entry with no
// piece exits. Rows of no sequence (before query_start[0] or from query_start[num_seqs]) get zeros.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" and
// "ldmatrix"): with g = lane / 4 and t = lane % 4,
//   A (16x16, row-major) regs a0..a3: (row g, k 2t..2t+1), (row g+8, k 2t..), (row g, k 2t+8..),
//                                     (row g+8, k 2t+8..); lower k in the low 16 bits.
//   B (16x8, "col": element (k, n))   regs b0, b1: (k 2t..2t+1, n g), (k 2t+8.., n g).
//   C/D (16x8 f32) c0..c3: (row g, n 2t), (row g, n 2t+1), (row g+8, n 2t), (row g+8, n 2t+1).
//   ldmatrix .x4: lanes 8i..8i+7 give the 8 row addresses of matrix i; each lane receives, of every
//   matrix, row lane/4, elements 2(lane%4) and 2(lane%4)+1 (.trans: the transposed matrix).
// Hence Q (smem [row][d]) -> A by ldmatrix; K (smem [key][d]) -> B by ldmatrix (B(k=d, n=key) is
// K[key][d], the rows of K are the n index); V (smem [key][d]) -> B by ldmatrix.trans (B(k=key,
// n=d) = V[key][d]); the S accumulators of n-tiles 2kk and 2kk+1 are exactly the A fragment of
// P for k-step kk.
#include <cuda_bf16.h>

#include <atomic>
#include <climits>
#include <type_traits>

#include "attention_internal.cuh"
#include "common/fp8.cuh"

namespace ignis::attention::detail {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kBM = 64;  // query rows per block
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;

template <int D, int HP, bool FP8>
struct PCfg {
  // keys per tile: 32 where the accumulators of 64 would not fit in registers (head_dim 256; two
  // heads of head_dim 128)
  static constexpr int BN = (D > 128 || (HP == 2 && D == 128)) ? 32 : 64;
  static constexpr int LDS = D + 8;                         // smem row stride (elements): rows 16 B apart
                                                            // mod 128 B, so ldmatrix is conflict-free
  static constexpr int CPR = D / 8;                         // 16-byte chunks per row
  static constexpr int RPP = kThreads / CPR;                // rows loaded per pass of the block
  static constexpr int Q_PASSES = kBM / RPP;
  // K/V tiles move in 16-byte chunks of KV_CE elements (8 bf16 or 16 e4m3 codes): chunk c of a tile
  // is chunk c % KV_CPR of row c / KV_CPR, and thread t moves chunks t, t + 128, ...
  static constexpr int KV_CE = FP8 ? 16 : 8;
  static constexpr int KV_CPR = D / KV_CE;
  static constexpr int KV_CHUNKS = BN * KV_CPR;
  static constexpr int KV_ITERS = (KV_CHUNKS + kThreads - 1) / kThreads;
  static constexpr bool KV_PARTIAL = KV_CHUNKS % kThreads != 0;  // some threads have no chunk in the last pass
  // bf16 stages of sK/sV: a plain cache loads into two; an fp8 cache stages codes in two stages of
  // [BN][D] bytes each and converts into one.
  static constexpr int KV_STAGES = FP8 ? 1 : 2;
  static constexpr int KSTEPS = D / 16;                     // k-steps of Q K^T
  static constexpr int NT_S = BN / 8;                       // n-tiles of S
  static constexpr int KSTEPS_PV = BN / 16;                 // k-steps of P V
  static constexpr int NT_O = D / 8;                        // n-tiles of O
  static constexpr bool Q_IN_REGS = D <= 128 && HP == 1;    // else re-read Q fragments from smem
  static constexpr size_t SMEM =
      static_cast<size_t>(HP * kBM + 2 * KV_STAGES * BN) * LDS * sizeof(bf16) + (FP8 ? static_cast<size_t>(2 * 2 * BN * D) : 0);
  static_assert(HP == 1 || (HP == 2 && D <= 128), "head pairs only where the accumulators fit in registers");
  static_assert(kBM % RPP == 0, "Q loads");
  static_assert(kThreads % KV_CPR == 0, "a thread's chunks stay in one column of the tile");
  static_assert(NT_S % 2 == 0 && NT_O % 2 == 0, "ldmatrix.x4 covers two n-tiles");
};

struct PrefillArgs {
  const bf16* q;
  const void* k;  // bf16, or e4m3 codes
  const void* v;
  bf16* out;
  const int32_t* bt;
  const int32_t* seq_lens;
  const int32_t* qs;
  int num_seqs, num_tokens, num_heads, num_kv_heads, bs_log2, mbps, window, nchunks;
  float scale_log2;  // scale * log2(e) * k_scale
  float v_scale;     // 1 for a plain cache
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; src_bytes == 0 writes 16 zero bytes (src must still be valid).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

// D = A * B + D, m16n8k16, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats -> bf16x2, `lo` in the low 16 bits (the lower k / column index).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ __forceinline__ float safe_max(float m) { return m == -INFINITY ? 0.f : m; }

// Zeros rows [rs, re) of heads [h0, h0 + HP) (16-byte stores; the HP heads are adjacent).
template <int D, int HP>
__device__ __forceinline__ void zero_rows(const PrefillArgs& a, int h0, int rs, int re) {
  constexpr int CPR = HP * D / 8;
  const long long row_stride = static_cast<long long>(a.num_heads) * D;
  for (int i = threadIdx.x; i < (re - rs) * CPR; i += kThreads) {
    const int r = rs + i / CPR;
    *reinterpret_cast<uint4*>(a.out + r * row_stride + h0 * D + (i % CPR) * 8) = make_uint4(0u, 0u, 0u, 0u);
  }
}

// Eight e4m3 codes (two little-endian words) -> eight bf16, exact.
__device__ __forceinline__ uint4 e4m3x8_to_bf16(uint32_t lo, uint32_t hi) {
  uint4 r;
  float f[4];
  e4m3x4_to_float(lo, f);
  r.x = pack_bf16(f[0], f[1]);
  r.y = pack_bf16(f[2], f[3]);
  e4m3x4_to_float(hi, f);
  r.z = pack_bf16(f[0], f[1]);
  r.w = pack_bf16(f[2], f[3]);
  return r;
}

// Sixteen e4m3 codes -> sixteen bf16 at dst (16-byte aligned). (Through uint4 values: with local
// arrays here, nvcc lowered the 16-byte zero stores of every prefill kernel to 8-byte pairs.)
__device__ __forceinline__ void e4m3x16_to_bf16(const uint4& codes, bf16* dst) {
  *reinterpret_cast<uint4*>(dst) = e4m3x8_to_bf16(codes.x, codes.y);
  *reinterpret_cast<uint4*>(dst + 8) = e4m3x8_to_bf16(codes.z, codes.w);
}

// FP8: the cache holds e4m3 codes (else bf16).
template <int D, int HP, bool FP8>
__global__ void __launch_bounds__(kThreads, 2) flash_prefill_kernel(const PrefillArgs a) {
  using C = PCfg<D, HP, FP8>;
  using KvElem = std::conditional_t<FP8, e4m3_t, bf16>;
  constexpr int BN = C::BN, LDS = C::LDS, CPR = C::CPR, RPP = C::RPP;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sQ = reinterpret_cast<bf16*>(smem_raw);  // [HP][kBM][LDS]
  bf16* sK = sQ + HP * kBM * LDS;                 // [KV_STAGES][BN][LDS]
  bf16* sV = sK + C::KV_STAGES * BN * LDS;        // [KV_STAGES][BN][LDS]
  e4m3_t* s8K = reinterpret_cast<e4m3_t*>(sV + C::KV_STAGES * BN * LDS);  // FP8 only: [2][BN][D] codes
  e4m3_t* s8V = s8K + 2 * BN * D;                                         // FP8 only: [2][BN][D]

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int head_groups = a.num_heads / HP;
  const int h0 = (blockIdx.x % head_groups) * HP;  // first query head of the block
  const int piece = blockIdx.x / head_groups;
  const int kvh = h0 / (a.num_heads / a.num_kv_heads);  // HP divides the GQA group: one kv head
  const long long row_stride = static_cast<long long>(a.num_heads) * D;
  const long long kv_stride = static_cast<long long>(a.num_kv_heads) * D;

  // ---- piece -> rows [r0, r1) of sequence s --------------------------------------------------
  int s, r0, r1;
  if (piece < a.nchunks) {
    const int t0 = (a.nchunks - 1 - piece) * kBM;
    const int tend = min(t0 + kBM, a.num_tokens);
    const int qa = a.num_seqs > 0 ? __ldg(a.qs) : 0;
    const int qz = a.num_seqs > 0 ? __ldg(a.qs + a.num_seqs) : 0;
    zero_rows<D, HP>(a, h0, t0, min(tend, qa));  // rows before the first sequence
    zero_rows<D, HP>(a, h0, max(t0, qz), tend);  // rows after the last sequence
    s = find_seq(a.qs, a.num_seqs, t0);
    if (s < 0) return;
    r0 = t0;
    r1 = min(tend, __ldg(a.qs + s + 1));
  } else {
    s = piece - a.nchunks;
    if (s >= a.num_seqs) return;
    const int qb = __ldg(a.qs + s);
    const int qe = __ldg(a.qs + s + 1);
    if (qe <= qb || qb % kBM == 0 || qb < 0 || qb >= a.num_tokens) return;
    r0 = qb;
    r1 = min(min(qe, (qb / kBM + 1) * kBM), a.num_tokens);
  }
  const int m = r1 - r0;  // 1..64 rows
  const int qb = __ldg(a.qs + s);
  const int qe = __ldg(a.qs + s + 1);
  const int kend = key_end(a.seq_lens, s, a.mbps, a.bs_log2);
  const int p0 = __ldg(a.seq_lens + s) - (qe - qb) + (r0 - qb);  // position of tile row 0

  // Keys of the whole piece: [klo, khi] (first row's window start .. last row's position).
  int klo, khi, unused;
  key_range(p0, a.window, kend, klo, unused);
  key_range(p0 + m - 1, a.window, kend, unused, khi);
  if (khi < klo) {  // nothing to attend (only for inconsistent lengths): zeros
    zero_rows<D, HP>(a, h0, r0, r1);
    return;
  }

  // ---- this thread's rows and its warp's key range ---------------------------------------------
  const int g = lane >> 2;
  const int tq = lane & 3;
  const int wr0 = warp * 16;
  const bool warp_active = wr0 < m;
  const int w_first = p0 + wr0;                  // position of the warp's first row
  const int w_last = p0 + min(wr0 + 15, m - 1);  // ... and of its last valid row
  int w_lo, w_hi;
  key_range(w_first, a.window, kend, w_lo, unused);
  key_range(w_last, a.window, kend, unused, w_hi);
  // Per row (g and g+8): keys [row_lo, row_hi]; rows past the piece attend nothing.
  int row_lo[2], row_hi[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int tr = wr0 + g + 8 * r;
    if (tr < m) {
      const int pos = p0 + tr;
      row_lo[r] = a.window > 0 ? pos + 1 - a.window : INT_MIN;
      row_hi[r] = min(pos, kend - 1);
    } else {
      row_lo[r] = INT_MIN;
      row_hi[r] = -1;
    }
  }

  // ---- loads -----------------------------------------------------------------------------------
  const int ld_row = tid / CPR;  // row within a pass
  const int ld_c = tid % CPR;    // 16-byte chunk within the row
  const int32_t* __restrict__ bt = a.bt + static_cast<long long>(s) * a.mbps;
  const int bs_mask = (1 << a.bs_log2) - 1;
  const KvElem* kv_head_k = static_cast<const KvElem*>(a.k) + kvh * D;
  const KvElem* kv_head_v = static_cast<const KvElem*>(a.v) + kvh * D;

#pragma unroll
  for (int hp = 0; hp < HP; ++hp) {
#pragma unroll
    for (int i = 0; i < C::Q_PASSES; ++i) {
      const int row = i * RPP + ld_row;
      const bool ok = row < m;
      const bf16* src = ok ? a.q + (r0 + row) * row_stride + (h0 + hp) * D + ld_c * 8 : a.q;
      cp_async_16(smem_u32(sQ + (hp * kBM + row) * LDS + ld_c * 8), src, ok ? 16 : 0);
    }
  }

  // This thread's K/V chunks: row kv_row + i * kThreads / KV_CPR of a tile, column kv_col.
  const int kv_row = tid / C::KV_CPR;
  const int kv_col = (tid % C::KV_CPR) * C::KV_CE;
  const bool kv_last_pass = !C::KV_PARTIAL || tid + (C::KV_ITERS - 1) * kThreads < C::KV_CHUNKS;
  int phys[C::KV_ITERS];  // block id of this thread's key of each pass in the next tile to issue; -1: past kend
  auto fetch_phys = [&](int kt) {
#pragma unroll
    for (int i = 0; i < C::KV_ITERS; ++i) {
      const int key = kt * BN + i * (kThreads / C::KV_CPR) + kv_row;
      phys[i] = key < kend ? __ldg(bt + (key >> a.bs_log2)) : -1;
    }
  };
  auto issue_kv = [&](int kt, int stage) {
#pragma unroll
    for (int i = 0; i < C::KV_ITERS; ++i) {
      if (i == C::KV_ITERS - 1 && !kv_last_pass) break;
      const int krow = i * (kThreads / C::KV_CPR) + kv_row;
      const int key = kt * BN + krow;
      const bool ok = phys[i] >= 0;
      const long long off = ok ? ((static_cast<long long>(phys[i]) << a.bs_log2) | (key & bs_mask)) * kv_stride : 0;
      if constexpr (FP8) {
        const int sidx = (stage * BN + krow) * D + kv_col;
        cp_async_16(smem_u32(s8K + sidx), kv_head_k + off + kv_col, ok ? 16 : 0);
        cp_async_16(smem_u32(s8V + sidx), kv_head_v + off + kv_col, ok ? 16 : 0);
      } else {
        const int sidx = (stage * BN + krow) * LDS + kv_col;
        cp_async_16(smem_u32(sK + sidx), kv_head_k + off + kv_col, ok ? 16 : 0);
        cp_async_16(smem_u32(sV + sidx), kv_head_v + off + kv_col, ok ? 16 : 0);
      }
    }
  };
  // FP8: converts the chunks of `stage` this thread staged (complete for it after cp.async.wait)
  // into the bf16 tile (free: every warp passed the barrier after its last read).
  auto convert_kv = [&](int stage) {
#pragma unroll
    for (int i = 0; i < C::KV_ITERS; ++i) {
      if (i == C::KV_ITERS - 1 && !kv_last_pass) break;
      const int krow = i * (kThreads / C::KV_CPR) + kv_row;
      const int sidx = (stage * BN + krow) * D + kv_col;
      e4m3x16_to_bf16(*reinterpret_cast<const uint4*>(s8K + sidx), sK + krow * LDS + kv_col);
      e4m3x16_to_bf16(*reinterpret_cast<const uint4*>(s8V + sidx), sV + krow * LDS + kv_col);
    }
  };

  const int kt_lo = klo / BN;
  const int kt_hi = khi / BN;
  fetch_phys(kt_lo);
  issue_kv(kt_lo, 0);
  cp_async_commit();  // group: Q + tile kt_lo
  if (kt_lo < kt_hi) fetch_phys(kt_lo + 1);

  float o[HP][C::NT_O][4];
  float m_run[HP][2], l_run[HP][2];
#pragma unroll
  for (int hp = 0; hp < HP; ++hp) {
#pragma unroll
    for (int nt = 0; nt < C::NT_O; ++nt) o[hp][nt][0] = o[hp][nt][1] = o[hp][nt][2] = o[hp][nt][3] = 0.f;
    m_run[hp][0] = m_run[hp][1] = -INFINITY;
    l_run[hp][0] = l_run[hp][1] = 0.f;
  }
  uint32_t qf[C::Q_IN_REGS ? C::KSTEPS : 1][4];

  // ldmatrix lane offsets (elements) within a 16x16 block, see the layout notes at the top.
  const int a_off = ((lane & 7) + ((lane >> 3) & 1) * 8) * LDS + (lane >> 4) * 8;  // Q (A)
  const int b_off = ((lane & 7) + (lane >> 4) * 8) * LDS + ((lane >> 3) & 1) * 8;  // K (B)
  const int v_off = ((lane & 7) + ((lane >> 3) & 1) * 8) * LDS + (lane >> 4) * 8;  // V (B, trans)
  const uint32_t sQ_warp = smem_u32(sQ + wr0 * LDS + a_off);  // head hp: + hp * kBM * LDS * 2 bytes

  for (int kt = kt_lo; kt <= kt_hi; ++kt) {
    const int stage = (kt - kt_lo) & 1;
    if (kt < kt_hi) issue_kv(kt + 1, stage ^ 1);
    cp_async_commit();  // possibly empty: keeps one group per iteration
    if (kt + 1 < kt_hi) fetch_phys(kt + 2);
    cp_async_wait<1>();  // everything but the newest group (tile kt+1) has landed
    if constexpr (FP8) convert_kv(stage);
    __syncthreads();

    if constexpr (C::Q_IN_REGS) {
      if (kt == kt_lo) {
#pragma unroll
        for (int ks = 0; ks < C::KSTEPS; ++ks) ldmatrix_x4(qf[ks], sQ_warp + ks * 32);
      }
    }

    const int kbase = kt * BN;
    if (warp_active && kbase <= w_hi && kbase + BN - 1 >= w_lo) {
      const int kv_stage = FP8 ? 0 : stage;
      const uint32_t sK_st = smem_u32(sK + kv_stage * BN * LDS);
      const uint32_t sV_st = smem_u32(sV + kv_stage * BN * LDS);

      // S = Q K^T (16 x BN per warp and head)
      float sacc[HP][C::NT_S][4];
#pragma unroll
      for (int hp = 0; hp < HP; ++hp) {
#pragma unroll
        for (int nt = 0; nt < C::NT_S; ++nt) sacc[hp][nt][0] = sacc[hp][nt][1] = sacc[hp][nt][2] = sacc[hp][nt][3] = 0.f;
      }
      // Fully unrolled when Q lives in registers (qf[ks] needs constant indices); else by 4, which
      // keeps two heads of head_dim 128 within 255 registers without spilling.
#pragma unroll C::Q_IN_REGS ? C::KSTEPS : 4
      for (int ks = 0; ks < C::KSTEPS; ++ks) {
        uint32_t af[HP][4];
#pragma unroll
        for (int hp = 0; hp < HP; ++hp) {
          if constexpr (C::Q_IN_REGS) {
            af[hp][0] = qf[ks][0];
            af[hp][1] = qf[ks][1];
            af[hp][2] = qf[ks][2];
            af[hp][3] = qf[ks][3];
          } else {
            ldmatrix_x4(af[hp], sQ_warp + (hp * kBM * LDS) * 2 + ks * 32);
          }
        }
#pragma unroll
        for (int np = 0; np < C::NT_S / 2; ++np) {
          uint32_t b[4];
          ldmatrix_x4(b, sK_st + ((np * 16) * LDS + b_off + ks * 16) * 2);
#pragma unroll
          for (int hp = 0; hp < HP; ++hp) {
            mma_bf16(sacc[hp][2 * np], af[hp], b[0], b[1]);
            mma_bf16(sacc[hp][2 * np + 1], af[hp], b[2], b[3]);
          }
        }
      }

      // Scale to log2 units; mask where the tile crosses the diagonal, the window or kend.
      const bool need_mask = kbase + BN - 1 > w_first || (a.window > 0 && kbase < w_last + 1 - a.window) ||
                             kbase + BN > kend;
#pragma unroll
      for (int nt = 0; nt < C::NT_S; ++nt) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int kp = kbase + nt * 8 + 2 * tq + (i & 1);
          const bool masked = need_mask && (kp > row_hi[i >> 1] || kp < row_lo[i >> 1]);
#pragma unroll
          for (int hp = 0; hp < HP; ++hp) sacc[hp][nt][i] = masked ? -INFINITY : sacc[hp][nt][i] * a.scale_log2;
        }
      }

      // Online softmax, rows g (r = 0) and g + 8 (r = 1); a row lives in the 4 lanes of a quad.
#pragma unroll
      for (int hp = 0; hp < HP; ++hp) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = -INFINITY;
#pragma unroll
          for (int nt = 0; nt < C::NT_S; ++nt) mx = fmaxf(mx, fmaxf(sacc[hp][nt][2 * r], sacc[hp][nt][2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float mn = fmaxf(m_run[hp][r], mx);
          const float mu = safe_max(mn);
          const float alpha = exp2f(m_run[hp][r] - mu);
          m_run[hp][r] = mn;
          float psum = 0.f;
#pragma unroll
          for (int nt = 0; nt < C::NT_S; ++nt) {
            sacc[hp][nt][2 * r] = exp2f(sacc[hp][nt][2 * r] - mu);
            sacc[hp][nt][2 * r + 1] = exp2f(sacc[hp][nt][2 * r + 1] - mu);
            psum += sacc[hp][nt][2 * r] + sacc[hp][nt][2 * r + 1];
          }
          l_run[hp][r] = l_run[hp][r] * alpha + psum;  // this lane's columns; the quad is summed at the end
#pragma unroll
          for (int nt = 0; nt < C::NT_O; ++nt) {
            o[hp][nt][2 * r] *= alpha;
            o[hp][nt][2 * r + 1] *= alpha;
          }
        }
      }

      // O += P V
#pragma unroll
      for (int kk = 0; kk < C::KSTEPS_PV; ++kk) {
        uint32_t pa[HP][4];
#pragma unroll
        for (int hp = 0; hp < HP; ++hp) {
          pa[hp][0] = pack_bf16(sacc[hp][2 * kk][0], sacc[hp][2 * kk][1]);
          pa[hp][1] = pack_bf16(sacc[hp][2 * kk][2], sacc[hp][2 * kk][3]);
          pa[hp][2] = pack_bf16(sacc[hp][2 * kk + 1][0], sacc[hp][2 * kk + 1][1]);
          pa[hp][3] = pack_bf16(sacc[hp][2 * kk + 1][2], sacc[hp][2 * kk + 1][3]);
        }
#pragma unroll
        for (int np = 0; np < C::NT_O / 2; ++np) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, sV_st + ((kk * 16) * LDS + v_off + np * 16) * 2);
#pragma unroll
          for (int hp = 0; hp < HP; ++hp) {
            mma_bf16(o[hp][2 * np], pa[hp], b[0], b[1]);
            mma_bf16(o[hp][2 * np + 1], pa[hp], b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // stage is overwritten by the loads issued next iteration
  }

  // ---- epilogue: normalise, stage the warp's rows in its own rows of sQ, 16-byte stores --------
  if (!warp_active) return;
  __syncwarp();
#pragma unroll
  for (int hp = 0; hp < HP; ++hp) {
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = l_run[hp][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      inv[r] = l > 0.f ? a.v_scale / l : 0.f;
    }
    bf16* sO = sQ + (hp * kBM + wr0) * LDS;  // only this warp ever reads or writes these rows
#pragma unroll
    for (int nt = 0; nt < C::NT_O; ++nt) {
      *reinterpret_cast<uint32_t*>(sO + g * LDS + nt * 8 + 2 * tq) =
          pack_bf16(o[hp][nt][0] * inv[0], o[hp][nt][1] * inv[0]);
      *reinterpret_cast<uint32_t*>(sO + (g + 8) * LDS + nt * 8 + 2 * tq) =
          pack_bf16(o[hp][nt][2] * inv[1], o[hp][nt][3] * inv[1]);
    }
  }
  __syncwarp();
  for (int i = lane; i < HP * 16 * CPR; i += 32) {
    const int hp = i / (16 * CPR);
    const int row = (i / CPR) % 16;
    const int c = i % CPR;
    if (wr0 + row < m) {
      *reinterpret_cast<uint4*>(a.out + (r0 + wr0 + row) * row_stride + (h0 + hp) * D + c * 8) =
          *reinterpret_cast<const uint4*>(sQ + (hp * kBM + wr0 + row) * LDS + c * 8);
    }
  }
}

template <int D, int HP, bool FP8>
cudaError_t run(const PrefillArgs& a, cudaStream_t stream) {
  constexpr size_t smem = PCfg<D, HP, FP8>::SMEM;
  // Raise the dynamic shared-memory limit once per device (not a stream operation: fine while
  // capturing a graph, but normally done by the first, eager call).
  static std::atomic<unsigned long long> done{0};
  int dev = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err != cudaSuccess) return err;
  const unsigned long long bit = 1ull << (dev & 63);
  if ((done.load(std::memory_order_relaxed) & bit) == 0) {
    err = cudaFuncSetAttribute(flash_prefill_kernel<D, HP, FP8>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem));
    if (err != cudaSuccess) return err;
    done.fetch_or(bit, std::memory_order_relaxed);
  }
  const long long blocks = static_cast<long long>(a.nchunks + a.num_seqs) * (a.num_heads / HP);
  flash_prefill_kernel<D, HP, FP8><<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(a);
  return cudaGetLastError();
}

template <int D, bool FP8>
cudaError_t run_hp(const PrefillArgs& a, int hp, cudaStream_t stream) {
  if constexpr (D <= 128) {
    if (hp == 2) return run<D, 2, FP8>(a, stream);
  }
  return run<D, 1, FP8>(a, stream);
}

template <int D>
cudaError_t run_kv(const PrefillArgs& a, int hp, bool fp8, cudaStream_t stream) {
  return fp8 ? run_hp<D, true>(a, hp, stream) : run_hp<D, false>(a, hp, stream);
}

}  // namespace

int prefill_heads_per_block(const Params& p, int override_hp) {
  const int group = p.num_heads / p.num_kv_heads;
  const int hp = override_hp > 0 ? override_hp : 2;
  return (hp == 2 && group % 2 == 0 && p.head_dim <= 128) ? 2 : 1;
}

cudaError_t launch_prefill(const Params& p, cudaStream_t stream, int override_hp) {
  const cudaError_t verr = validate(p);
  if (verr != cudaSuccess) return verr;
  if (p.dtype != DType::BF16) return cudaErrorInvalidValue;
  if (p.num_tokens == 0) return cudaSuccess;
  PrefillArgs a{};
  a.q = static_cast<const bf16*>(p.q);
  a.k = p.k_cache;
  a.v = p.v_cache;
  a.out = static_cast<bf16*>(p.out);
  a.bt = p.block_tables;
  a.seq_lens = p.seq_lens;
  a.qs = p.query_start;
  a.num_seqs = p.num_seqs;
  a.num_tokens = p.num_tokens;
  a.num_heads = p.num_heads;
  a.num_kv_heads = p.num_kv_heads;
  a.bs_log2 = ilog2(p.block_size);
  a.mbps = p.max_blocks_per_seq;
  a.window = p.sliding_window;
  a.nchunks = (p.num_tokens + kBM - 1) / kBM;
  a.scale_log2 = p.scale * 1.4426950408889634f * p.k_scale;
  a.v_scale = p.v_scale;
  const int hp = prefill_heads_per_block(p, override_hp);
  const bool fp8 = p.kv_format == KvFormat::FP8E4M3;
  switch (p.head_dim) {
    case 16: return run_kv<16>(a, hp, fp8, stream);
    case 32: return run_kv<32>(a, hp, fp8, stream);
    case 64: return run_kv<64>(a, hp, fp8, stream);
    case 128: return run_kv<128>(a, hp, fp8, stream);
    case 256: return run_kv<256>(a, hp, fp8, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace ignis::attention::detail
