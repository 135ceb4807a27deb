// Decode attention on tensor cores: bf16 activations over an fp8 e4m3 cache, one query row per
// sequence (mma.sync m16n8k16 f16 -> f32; the e4m3x2 -> f16x2 conversion needs sm_89+).
//
// An fp8 cache halves the bytes per key, which doubles the arithmetic per byte: on CUDA cores
// (paged_attention.cu) a GQA-4 decode would then need most of the SM's FMA issue slots to keep
// up with HBM. Here the dot products and the P V sums run on tensor cores instead.
//
// One thread block = (one query row, a slice of <= 8 query heads of one GQA group, one split-K
// partition): the CUDA-core kernel's grid, plan, workspace and combine. Its 4 warps take turns
// over tiles of 16 keys; per tile a warp computes S = Q K^T (the slice's heads are A rows 0..7,
// rows 8..15 are zero; the 16 keys are two n-tiles), the online softmax (base 2) on the S
// accumulators, and O += P V (P re-packed from S as the A fragment, as in flash_prefill.cu).
//
// Nothing is staged in shared memory: each lane loads its B fragments from the cache itself. The
// order of the dims inside an MMA is free (a dot product may be permuted, and so may the output
// columns, as long as both sides agree), so it is chosen to make those loads contiguous (g = lane
// / 4, t = lane % 4; fragment layouts as in flash_prefill.cu):
//   Q K^T: lane (g, t) holds key g of each n-tile, dims [t D/4, (t+1) D/4) (D/4 bytes: two 16-byte
//          loads at D = 128). Its 32-bit word ks feeds k-step ks: b0 = codes 0, 1 (k = 2t, 2t+1),
//          b1 = codes 2, 3 (k = 2t+8, 2t+9). Q's A fragment uses the same map: a0 = q[g][t D/4 +
//          4 ks + 0..1], a2 = q[g][t D/4 + 4 ks + 2..3].
//   P V:   column n of output n-tile j is dim n D/8 + j, so lane (g, t) loads dims [g D/8, (g+1) D/8)
//          (one 16-byte load at D = 128) of keys 2t, 2t+1, 2t+8, 2t+9, and byte_perm pairs the codes
//          of keys 2t, 2t+1 (b0) and 2t+8, 2t+9 (b1) of one dim. Accumulator lane (g, t) holds head
//          g, dims 2t D/8 + j and (2t+1) D/8 + j.
// e4m3 codes are exact in f16, and so is q (bf16) within f16's range (clamped at ±65504);
// products are exact and sum in f32, so the scores are the CUDA-core kernel's up to f32 rounding.
// P is rounded to f16 (11 bits; flash_prefill.cu rounds it to bf16).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "attention_internal.cuh"
#include "common/fp8.cuh"

namespace ignis::attention::detail {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTableChunk = 512;  // positions whose block-table entries are staged in smem at once
constexpr int kTile = 16;         // keys per warp per iteration
constexpr int kHeads = 8;         // query heads per block at most (A rows 0..7)

template <int D>
struct MCfg {
  static constexpr int KSTEPS = D / 16;  // k-steps of Q K^T = 32-bit words of a lane's piece of a K row
  static constexpr int K_WORDS = D / 16;  // a lane's piece of a K row: D/4 bytes
  static constexpr int V_WORDS = D / 32;  // a lane's piece of a V row: D/8 bytes
  static constexpr int NT_O = D / 8;      // n-tiles of O
  static constexpr int ACC_STRIDE = D + 4;  // s_acc row stride (floats), see acc_at
  static_assert(D == 64 || D == 128, "head_dim 64 or 128");
  static_assert(kTableChunk % (kWarps * kTile) == 0, "table chunk must hold whole iterations");
};

// Loads N 32-bit words (N = 2: 8 bytes, N % 4 == 0: 16-byte loads) from 16-byte-aligned cache rows.
template <int N>
__device__ __forceinline__ void load_words(const e4m3_t* p, uint32_t (&w)[N]) {
  if constexpr (N == 2) {
    const uint2 r = __ldg(reinterpret_cast<const uint2*>(p));
    w[0] = r.x;
    w[1] = r.y;
  } else {
#pragma unroll
    for (int i = 0; i < N / 4; ++i) {
      const uint4 r = __ldg(reinterpret_cast<const uint4*>(p) + i);
      w[4 * i] = r.x;
      w[4 * i + 1] = r.y;
      w[4 * i + 2] = r.z;
      w[4 * i + 3] = r.w;
    }
  }
}

// D = A * B + D, m16n8k16, f16 inputs, f32 accumulators; A rows 8..15 are zero.
__device__ __forceinline__ void mma_f16_rows8(float (&d)[4], uint32_t a0, uint32_t a2, uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
}

// Two floats -> f16x2, `lo` in the low 16 bits (the lower k / column index).
__device__ __forceinline__ uint32_t pack_f16(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// A bf16 q element as an f16 operand: exact within f16's range, saturated beyond it (NaN stays).
__device__ __forceinline__ float q_in_f16_range(uint32_t bf16_bits) {
  const float x = __uint_as_float(bf16_bits << 16);
  return fabsf(x) > 65504.f ? copysignf(65504.f, x) : x;
}

__device__ __forceinline__ float safe_max(float m) { return m == -INFINITY ? 0.f : m; }

// Where dim d of a warp's partial output row goes in s_acc: one float of padding per quarter of
// the row, so that the 32 lanes' stores of one accumulator register hit 32 different banks.
template <int D>
__device__ __forceinline__ int acc_at(int d) {
  return d + d / (D / 4);
}

template <int D>
__global__ void __launch_bounds__(kThreads, 3) paged_decode_mma_kernel(const PagedArgs a) {
  using C = MCfg<D>;
  __shared__ int s_table[kTableChunk];
  __shared__ __align__(16) float s_acc[kWarps][kHeads][C::ACC_STRIDE];
  __shared__ float s_m[kWarps][kHeads];
  __shared__ float s_l[kWarps][kHeads];

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  const auto [t0, kvh, head0, nheads, part] = decode_block(a);  // nheads <= 8
  const long long row_stride = static_cast<long long>(a.num_heads) * D;
  bf16* __restrict__ out = static_cast<bf16*>(a.out) + t0 * row_stride + head0 * D;

  // This row's keys [kb, ke) in this partition; zeros (direct) where there are none.
  const int s = find_seq(a.qs, a.num_seqs, t0);
  int kb = 1, ke = 0;
  if (s >= 0) {
    const int qe = __ldg(a.qs + s + 1);
    const int kend = key_end(a.seq_lens, s, a.mbps, a.bs_log2);
    int hi;
    key_range(__ldg(a.seq_lens + s) - qe + t0, a.window, kend, kb, hi);
    ke = hi + 1;
    clip_to_partition(a, part, kb, ke);
  }
  if (kb >= ke) {  // split mode: the combine kernel writes the zeros
    if (a.np == 1) {
      for (int i = tid; i < nheads * D; i += kThreads) out[i] = __float2bfloat16_rn(0.f);
    }
    return;
  }

  // Q as A fragments: a0 and a2 of each k-step for head g (zero past the slice).
  uint32_t qa[C::KSTEPS][2];
  {
    const bf16* qp = static_cast<const bf16*>(a.q) + t0 * row_stride + (head0 + g) * D + t * (D / 4);
#pragma unroll
    for (int ks = 0; ks < C::KSTEPS; ++ks) {
      const uint2 r = g < nheads ? __ldg(reinterpret_cast<const uint2*>(qp + 4 * ks)) : make_uint2(0u, 0u);
      qa[ks][0] = pack_f16(q_in_f16_range(r.x & 0xffffu), q_in_f16_range(r.x >> 16));
      qa[ks][1] = pack_f16(q_in_f16_range(r.y & 0xffffu), q_in_f16_range(r.y >> 16));
    }
  }

  float o[C::NT_O][4];
#pragma unroll
  for (int j = 0; j < C::NT_O; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m_run = -INFINITY;  // head g's running max (the same in the 4 lanes of the quad)
  float l_run = 0.f;        // this lane's part of head g's running sum (its key columns)

  const long long kv_row_stride = static_cast<long long>(a.num_kv_heads) * D;  // bytes
  const e4m3_t* __restrict__ kbase = static_cast<const e4m3_t*>(a.k) + kvh * D + t * (D / 4);
  const e4m3_t* __restrict__ vbase = static_cast<const e4m3_t*>(a.v) + kvh * D + g * (D / 8);
  const int32_t* __restrict__ bt = a.bt + static_cast<long long>(s) * a.mbps;
  const int bs_mask = (1 << a.bs_log2) - 1;

  for (int c0 = kb; c0 < ke; c0 += kTableChunk) {
    const int c1 = min(ke, c0 + kTableChunk);
    const int b0 = stage_block_table(s_table, bt, c0, c1, a.bs_log2);
    const auto cache_row = [&](int pos) {
      return (static_cast<long long>(s_table[(pos >> a.bs_log2) - b0]) << a.bs_log2) | (pos & bs_mask);
    };

    // The trip count depends on the warp only: the MMAs and shuffles below see all 32 lanes.
    for (int base = c0 + warp * kTile; base < c1; base += kWarps * kTile) {
      uint32_t kw[2][C::K_WORDS];  // keys base + g and base + 8 + g
      uint32_t vw[4][C::V_WORDS];  // keys base + 2t, 2t+1, 2t+8, 2t+9
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int pos = base + 8 * j + g;
        if (pos < c1) {
          load_words(kbase + cache_row(pos) * kv_row_stride, kw[j]);
        } else {
#pragma unroll
          for (int w = 0; w < C::K_WORDS; ++w) kw[j][w] = 0u;
        }
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int pos = base + 2 * t + (i & 1) + 8 * (i >> 1);
        if (pos < c1) {
          load_words(vbase + cache_row(pos) * kv_row_stride, vw[i]);
        } else {
#pragma unroll
          for (int w = 0; w < C::V_WORDS; ++w) vw[i][w] = 0u;
        }
      }

      // S = Q K^T: n-tile j = keys base + 8j .. base + 8j + 7; this lane: head g, keys 8j + 2t, 8j + 2t + 1.
      float sc[2][4];
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < C::KSTEPS; ++ks) {
          mma_f16_rows8(sc[j], qa[ks][0], qa[ks][1], e4m3x2_to_f16x2(kw[j][ks]), e4m3x2_to_f16x2(kw[j][ks] >> 16));
        }
      }

      // Online softmax of head g over the quad's 16 keys (keys past the chunk masked).
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          sc[j][i] = base + 8 * j + 2 * t + i < c1 ? sc[j][i] * a.qscale : -INFINITY;
          mx = fmaxf(mx, sc[j][i]);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float mn = fmaxf(m_run, mx);
      const float mu = safe_max(mn);
      const float alpha = exp2f(m_run - mu);
      m_run = mn;
      float psum = 0.f;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          sc[j][i] = exp2f(sc[j][i] - mu);
          psum += sc[j][i];
        }
      }
      l_run = fmaf(l_run, alpha, psum);
#pragma unroll
      for (int j = 0; j < C::NT_O; ++j) {
        o[j][0] *= alpha;
        o[j][1] *= alpha;
      }

      // O += P V: P's A fragment is S's accumulators (keys 2t, 2t+1 | 2t+8, 2t+9); word w of the V
      // pieces covers output n-tiles 4w .. 4w+3.
      const uint32_t pa0 = pack_f16(sc[0][0], sc[0][1]);
      const uint32_t pa2 = pack_f16(sc[1][0], sc[1][1]);
#pragma unroll
      for (int w = 0; w < C::V_WORDS; ++w) {
        const uint32_t lo01 = __byte_perm(vw[0][w], vw[1][w], 0x5140);  // (2t, 2t+1) of bytes 0 | 1
        const uint32_t hi01 = __byte_perm(vw[0][w], vw[1][w], 0x7362);  // (2t, 2t+1) of bytes 2 | 3
        const uint32_t lo89 = __byte_perm(vw[2][w], vw[3][w], 0x5140);
        const uint32_t hi89 = __byte_perm(vw[2][w], vw[3][w], 0x7362);
        mma_f16_rows8(o[4 * w], pa0, pa2, e4m3x2_to_f16x2(lo01), e4m3x2_to_f16x2(lo89));
        mma_f16_rows8(o[4 * w + 1], pa0, pa2, e4m3x2_to_f16x2(lo01 >> 16), e4m3x2_to_f16x2(lo89 >> 16));
        mma_f16_rows8(o[4 * w + 2], pa0, pa2, e4m3x2_to_f16x2(hi01), e4m3x2_to_f16x2(hi89));
        mma_f16_rows8(o[4 * w + 3], pa0, pa2, e4m3x2_to_f16x2(hi01 >> 16), e4m3x2_to_f16x2(hi89 >> 16));
      }
    }
  }

  // The warp's state of head g: the quad's sum, its rows of O (dims 2t D/8 + j, (2t+1) D/8 + j).
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
  l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
#pragma unroll
  for (int j = 0; j < C::NT_O; ++j) {
    s_acc[warp][g][acc_at<D>(2 * t * (D / 8) + j)] = o[j][0];
    s_acc[warp][g][acc_at<D>((2 * t + 1) * (D / 8) + j)] = o[j][1];
  }
  if (t == 0) {
    s_m[warp][g] = m_run;
    s_l[warp][g] = l_run;
  }
  __syncthreads();

  // Merge the warps; write out (direct) or the partial (split-K), as paged_attention.cu does.
  for (int i = tid; i < nheads * D; i += kThreads) {
    const int hh = i / D;
    const int d = i - hh * D;
    merge_and_store<bf16, D, kWarps>(a, &s_m[0][0], &s_l[0][0], kHeads, hh, [&](int w) { return s_acc[w][hh][acc_at<D>(d)]; }, t0,
                                     head0 + hh, d, part);
  }
}

template <int D>
cudaError_t run(const PagedArgs& a, cudaStream_t stream) {
  paged_decode_mma_kernel<D><<<paged_grid(a), kThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

bool decode_mma_supports(const Params& p) {
  return p.dtype == DType::BF16 && p.kv_format == KvFormat::FP8E4M3 && p.max_query_len == 1 && (p.head_dim == 64 || p.head_dim == 128);
}

cudaError_t launch_decode_mma(const PagedArgs& a, int head_dim, cudaStream_t stream) {
  if (a.rows != 1 || a.hc > kHeads) return cudaErrorInvalidValue;
  switch (head_dim) {
    case 64: return run<64>(a, stream);
    case 128: return run<128>(a, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace ignis::attention::detail
