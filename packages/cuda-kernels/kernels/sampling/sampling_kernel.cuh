#pragma once
// The sampling kernel: one block of 1024 threads per row. Phases (NOTES.md has the reasoning):
//   1. row_stats: one pass over the row: max (first index), logsumexp, finite mean and min.
//   2. search: the top_k and top_p thresholds by bisection over element values (as keys), counting
//      or summing exact integer weights above a pivot; as soon as few enough elements lie above the
//      bracket they are compacted, in index order, into shared memory and later passes read those.
//   3. descent: the kept mass (elements at or above the threshold) in index order, split into 32
//      parts per level, down to the element whose running mass first exceeds the draw.
// Every phase is block-uniform control flow; shared state is written by one warp between barriers.
#include "sampling.cuh"
#include "sampling_device.cuh"

namespace ignis::sampling::detail {

struct Shared {
  alignas(16) float cand_x[kCap];  // candidates: logits with key >= cand_floor, in index order
  alignas(16) int cand_i[kCap];    // their indices in the row
  // Per-warp partials of the current pass.
  float w_max[kWarps], w_lm[kWarps], w_ls[kWarps], w_sum[kWarps], w_min[kWarps];
  int w_arg[kWarps];
  uint32_t w_fin[kWarps], w_clo[kWarps], w_cmid[kWarps], w_up[kWarps], w_dn[kWarps];
  unsigned long long w_mlo[kWarps], w_mmid[kWarps], w_tot[kWarps];
  // Row statistics (row_stats) and the row's sampling constants.
  float xmax, lse, mean, xmin;
  int argmax;
  float c;        // log2(e) / temperature
  uint32_t kmax;  // key_of(xmax)
  // Candidates: the elements with key in [cand_floor, hi of the search that made them); above
  // them ceil_cnt elements of weight ceil_mass (0 and 0 when the candidates hold everything above).
  int have_cand, ncand;
  uint32_t cand_floor, ceil_cnt;
  unsigned long long ceil_mass;
  // Search state: the answer lies in keys [lo, hi); lo satisfies the predicate, hi does not.
  // cnt_* and mass_hi: elements at or above lo and hi; wcnt_*: the same per warp (row layout).
  uint32_t lo, hi, cnt_lo, cnt_hi;
  int cnt_known, steps, first, spec_ok;
  unsigned long long target, mass_hi;
  uint32_t wcnt_lo[kWarps], wcnt_hi[kWarps], woff[kWarps];
  // Descent state and the key threshold result.
  int d_qa, d_qb;
  unsigned long long d_carry, d_target;
  uint32_t thr;
};

// One per block. Functions name it directly so that every access is a shared-memory access.
__shared__ Shared smem;

/** The candidates in shared memory, in index order: quad q holds entries 4q .. 4q + 3. */
struct CandSource {
  int n;
  int nq;

  __device__ explicit CandSource(int count) : n(count), nq((count + 3) >> 2) {}

  template <bool kInfPad = false>
  __device__ __forceinline__ int load(int q, int qend, float (&v)[4]) const {
    const int i0 = 4 * q;
    if (q < qend && i0 + 4 <= n) {
      const float4 t = *reinterpret_cast<const float4*>(smem.cand_x + i0);
      v[0] = t.x;
      v[1] = t.y;
      v[2] = t.z;
      v[3] = t.w;
      return 0xF;
    }
    int mask = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const bool ok = q < qend && i0 + j < n;
      v[j] = ok ? smem.cand_x[i0 + j] : (kInfPad ? -INFINITY : NAN);
      mask |= ok ? (1 << j) : 0;
    }
    return mask;
  }

  __device__ __forceinline__ int index(int q, int j) const { return smem.cand_i[4 * q + j]; }
};

// ---------------------------------------------------------------------------------------------
// Phase 1: row statistics. The phases are __noinline__: each gets the whole register file instead
// of sharing it with the state that the kernel body keeps alive across them.

/**
 * The base of a running max m: the sum s of a thread holds sum e^(x - base(m)). Differences, not
 * m * log2(e), which overflows for |m| > FLT_MAX / log2(e) (saturated penalized logits reach that).
 */
__device__ __forceinline__ float lse_base(float m) { return m == -INFINITY ? 0.f : m; }

/** e^(x - base), from ex2: 0 for x = -inf. */
__device__ __forceinline__ float exp_from(float x, float base) { return ex2((x - base) * kLog2e); }

__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
  const float nm = fmaxf(m, m2);
  const float nb = lse_base(nm);
  s = s * exp_from(lse_base(m), nb) + s2 * exp_from(lse_base(m2), nb);
  m = nm;
}

__device__ __forceinline__ void arg_merge(float& v, int& i, float v2, int i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

/** Warp-reduces the pass-1 accumulators (every lane gets the result). */
template <bool kSampled>
__device__ __forceinline__ void reduce_stats(float& vmax, int& varg, float& lm, float& ls, float& fsum, float& fmin,
                                             uint32_t& fcnt) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    arg_merge(vmax, varg, __shfl_xor_sync(kFull, vmax, offset), __shfl_xor_sync(kFull, varg, offset));
    lse_merge(lm, ls, __shfl_xor_sync(kFull, lm, offset), __shfl_xor_sync(kFull, ls, offset));
    if (kSampled) {
      fsum += __shfl_xor_sync(kFull, fsum, offset);
      fmin = fminf(fmin, __shfl_xor_sync(kFull, fmin, offset));
    }
  }
  if (kSampled) fcnt = __reduce_add_sync(kFull, fcnt);
}

/**
 * One pass over the row: the max and its first index, logsumexp, and for sampled rows the mean and
 * min of the finite logits (they place the first bisection pivot). Padding reads as -inf, which
 * none of these counts: -inf never beats a max with '>', adds 0 to the sum and is not finite.
 */
template <bool kSampled>
__device__ __noinline__ void row_stats(const RowSource src) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int qa, qb;
  warp_range(src.nq, warp, qa, qb);
  float vmax = -INFINITY, lm = -INFINITY, ls = 0.f, fsum = 0.f, fmin = INFINITY;
  int varg = INT_MAX;
  uint32_t fcnt = 0;
  for (int base = qa; base < qb; base += 32 * kUnroll) {
    float x[kUnroll][4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) src.load<true>(base + 32 * u + lane, qb, x[u]);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i0 = src.index(base + 32 * u + lane, 0);
      float qmax = -INFINITY;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float v = x[u][j];
        qmax = fmaxf(qmax, v);
        if (v > vmax) {  // each thread visits its indices in increasing order: keeps the first max
          vmax = v;
          varg = i0 + j;
        }
        if (kSampled && fabsf(v) < INFINITY) {
          fsum += v;
          fmin = fminf(fmin, v);
          ++fcnt;
        }
      }
      // Online logsumexp, one rescale per quad. NaN logits make it NaN, as in the reference.
      const float nm = fmaxf(lm, qmax);
      const float nb = lse_base(nm);
      float acc = ls * exp_from(lse_base(lm), nb);
#pragma unroll
      for (int j = 0; j < 4; ++j) acc += exp_from(x[u][j], nb);
      ls = acc;
      lm = nm;
    }
  }
  reduce_stats<kSampled>(vmax, varg, lm, ls, fsum, fmin, fcnt);
  if (lane == 0) {
    smem.w_max[warp] = vmax;
    smem.w_arg[warp] = varg;
    smem.w_lm[warp] = lm;
    smem.w_ls[warp] = ls;
    smem.w_sum[warp] = fsum;
    smem.w_min[warp] = fmin;
    smem.w_fin[warp] = fcnt;
  }
  __syncthreads();
  if (warp == 0) {
    vmax = smem.w_max[lane];
    varg = smem.w_arg[lane];
    lm = smem.w_lm[lane];
    ls = smem.w_ls[lane];
    fsum = smem.w_sum[lane];
    fmin = smem.w_min[lane];
    fcnt = smem.w_fin[lane];
    reduce_stats<kSampled>(vmax, varg, lm, ls, fsum, fmin, fcnt);
    if (lane == 0) {
      smem.xmax = vmax;
      smem.argmax = varg;
      smem.lse = lm == -INFINITY ? -INFINITY : lm + logf(ls);
      smem.mean = fcnt > 0 ? fsum / static_cast<float>(fcnt) : 0.f;
      smem.xmin = fmin;
    }
  }
  __syncthreads();
}

// ---------------------------------------------------------------------------------------------
// Phase 2: threshold search.

/**
 * Writes the flagged elements of quad q (lanes in order, then j) after the warp's `pos` earlier
 * ones into [base, base + cap) of the candidate arrays; pos counts all flagged, written or not.
 */
__device__ __forceinline__ void compact_quad(const RowSource& src, int q, const float (&x)[4], const bool (&f)[4],
                                             uint32_t base, uint32_t cap, uint32_t& pos) {
  const int lane = threadIdx.x & 31;
  const uint32_t b0 = __ballot_sync(kFull, f[0]), b1 = __ballot_sync(kFull, f[1]);
  const uint32_t b2 = __ballot_sync(kFull, f[2]), b3 = __ballot_sync(kFull, f[3]);
  const uint32_t below = (1u << lane) - 1u;
  uint32_t p = pos + __popc(b0 & below) + __popc(b1 & below) + __popc(b2 & below) + __popc(b3 & below);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (f[j]) {
      if (p < cap) {
        smem.cand_x[base + p] = x[j];
        smem.cand_i[base + p] = src.index(q, j);
      }
      ++p;
    }
  }
  pos += __popc(b0) + __popc(b1) + __popc(b2) + __popc(b3);
}

/**
 * One pass at pivot `mid` over a source: per warp, the count (and, kMass, the weight) of elements
 * with key >= lo and >= mid, the smallest key >= mid and the largest key in [lo, mid). With kSpec
 * (row source only), each warp also copies its elements >= mid into its kRegion slice of the
 * candidate arrays. Weights are computed for keys >= lo when weigh_lo, else for keys >= mid.
 */
template <bool kMass, bool kSpec, class Src>
__device__ __noinline__ void eval_pivot(const Src src, uint32_t lo, uint32_t mid, bool weigh_lo) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int qa, qb;
  warp_range(src.nq, warp, qa, qb);
  const float xmax = smem.xmax, c = smem.c;
  uint32_t clo = 0, cmid = 0, up = UINT_MAX, dn = lo, pos = 0;
  unsigned long long mlo = 0, mmid = 0;
  const uint32_t wthr = weigh_lo ? lo : mid;
  for (int base = qa; base < qb; base += 32 * kUnroll) {
    float x[kUnroll][4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) src.load(base + 32 * u + lane, qb, x[u]);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      bool ge_mid[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint32_t k = key_of(x[u][j]);  // 0 for padding (NaN)
        const bool ge_lo = k >= lo;
        ge_mid[j] = k >= mid;
        clo += ge_lo ? 1u : 0u;
        cmid += ge_mid[j] ? 1u : 0u;
        if (ge_mid[j]) {
          up = min(up, k);
        } else if (ge_lo) {
          dn = max(dn, k);
        }
        if (kMass && k >= wthr) {
          const unsigned long long w = weight(x[u][j], xmax, c);
          if (ge_lo) mlo += w;
          if (ge_mid[j]) mmid += w;
        }
      }
      if constexpr (kSpec) compact_quad(src, base + 32 * u + lane, x[u], ge_mid, warp * kRegion, kRegion, pos);
    }
  }
  clo = __reduce_add_sync(kFull, clo);
  cmid = __reduce_add_sync(kFull, cmid);
  up = __reduce_min_sync(kFull, up);
  dn = __reduce_max_sync(kFull, dn);
  if (kMass) {
    mlo = warp_sum_u64(mlo);
    mmid = warp_sum_u64(mmid);
  }
  if (lane == 0) {
    smem.w_clo[warp] = clo;
    smem.w_cmid[warp] = cmid;
    smem.w_up[warp] = up;
    smem.w_dn[warp] = dn;
    smem.w_mlo[warp] = mlo;
    smem.w_mmid[warp] = mmid;
  }
  __syncthreads();
}

/** ceil(top_p * mass): the weight a prefix must reach, in integers. */
__device__ __forceinline__ unsigned long long mass_target(float top_p, unsigned long long mass) {
  const double t = ceil(static_cast<double>(top_p) * static_cast<double>(mass));
  return t > 0.0 ? static_cast<unsigned long long>(t) : 0ull;
}

/** Warp 0: folds the partials of eval_pivot into the search state (the block then syncs). */
template <bool kMass>
__device__ __forceinline__ void update_bracket(uint32_t lo, uint32_t mid, bool first, bool spec, bool in_cand, float top_p) {
  const int lane = threadIdx.x & 31;
  const uint32_t clo = smem.w_clo[lane], cmid = smem.w_cmid[lane];
  const uint32_t above = in_cand ? smem.ceil_cnt : 0u;  // elements above the candidates
  const uint32_t total_lo = __reduce_add_sync(kFull, clo) + above;
  const uint32_t total_mid = __reduce_add_sync(kFull, cmid) + above;
  const uint32_t up = __reduce_min_sync(kFull, smem.w_up[lane]);
  const uint32_t dn = __reduce_max_sync(kFull, smem.w_dn[lane]);
  const uint32_t widest = __reduce_max_sync(kFull, cmid);
  const uint32_t before = static_cast<uint32_t>(warp_inclusive_scan_u64(cmid)) - cmid;
  unsigned long long target = smem.target;
  bool pred;
  unsigned long long mass_mid = 0;
  if constexpr (kMass) {
    const unsigned long long ceil_mass = in_cand ? smem.ceil_mass : 0ull;
    const unsigned long long mass_lo = warp_sum_u64(smem.w_mlo[lane]) + ceil_mass;
    mass_mid = warp_sum_u64(smem.w_mmid[lane]) + ceil_mass;
    if (first) target = mass_target(top_p, mass_lo);
    pred = mass_mid >= target;
  } else {
    pred = total_mid >= target;
  }
  __syncwarp();
  smem.wcnt_lo[lane] = pred ? cmid : clo;
  if (pred) smem.woff[lane] = before;
  if (!pred) smem.wcnt_hi[lane] = cmid;
  if (lane == 0) {
    if (pred) {
      smem.lo = total_mid > 0 ? up : mid;  // no element lies in [mid, up): same count and weight
      smem.cnt_lo = total_mid;
    } else {
      smem.hi = max(dn, lo) + 1;  // no element lies in (dn, mid): the predicate fails above dn
      smem.cnt_lo = total_lo;
      smem.cnt_hi = total_mid;
      smem.mass_hi = mass_mid;
    }
    smem.cnt_known = 1;
    smem.steps += 1;
    smem.first = 0;
    smem.target = target;
    smem.spec_ok = (pred && spec && widest <= static_cast<uint32_t>(kRegion)) ? 1 : 0;
  }
}

/** The next pivot, strictly inside (lo, hi): halves values first (fast on wide ranges), then keys. */
__device__ __forceinline__ uint32_t next_pivot(uint32_t lo, uint32_t hi, int steps) {
  if (steps < kValueSteps) {
    const float vhi = from_key(hi - 1);
    float vlo = from_key(lo);
    if (lo <= kKeyNegInf) vlo = smem.mean < vhi ? smem.mean : smem.xmin;
    const uint32_t k = key_of(0.5f * vlo + 0.5f * vhi);
    if (k > lo && k < hi) return k;
  }
  return lo + (hi - lo) / 2;
}

/** Moves the speculative per-warp slices together (after a pivot that became lo). */
__device__ __noinline__ void pack_candidates() {
  constexpr int kPer = kCap / kThreads;
  float vx[kPer];
  int vi[kPer], dst[kPer];
#pragma unroll
  for (int r = 0; r < kPer; ++r) {
    const int slot = threadIdx.x + r * kThreads;
    const int w = slot / kRegion, o = slot % kRegion;
    dst[r] = -1;
    if (static_cast<uint32_t>(o) < smem.wcnt_lo[w]) {
      vx[r] = smem.cand_x[slot];
      vi[r] = smem.cand_i[slot];
      dst[r] = static_cast<int>(smem.woff[w]) + o;
    }
  }
  __syncthreads();
#pragma unroll
  for (int r = 0; r < kPer; ++r) {
    if (dst[r] >= 0) {
      smem.cand_x[dst[r]] = vx[r];
      smem.cand_i[dst[r]] = vi[r];
    }
  }
  if (threadIdx.x == 0) {
    smem.have_cand = 1;
    smem.cand_floor = smem.lo;
    smem.ceil_cnt = 0;  // the slices hold every element >= lo
    smem.ceil_mass = 0;
    smem.ncand = static_cast<int>(smem.cnt_lo);
    smem.spec_ok = 0;
  }
  __syncthreads();
}

/**
 * Copies the row's elements with key in [lo, hi) (smem.cnt_lo - smem.cnt_hi <= kCap of them) into
 * the candidates; the cnt_hi elements above hi stay as a count and a weight.
 */
__device__ __noinline__ void compact_row(const RowSource src, uint32_t lo, uint32_t hi) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int qa, qb;
  warp_range(src.nq, warp, qa, qb);
  const uint32_t mine = smem.wcnt_lo[warp] - smem.wcnt_hi[warp];
  const uint32_t base = __reduce_add_sync(kFull, lane < warp ? smem.wcnt_lo[lane] - smem.wcnt_hi[lane] : 0u);
  uint32_t pos = 0;
  for (int b = qa; b < qb; b += 32 * kUnroll) {
    float x[kUnroll][4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) src.load(b + 32 * u + lane, qb, x[u]);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      bool keep[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint32_t k = key_of(x[u][j]);
        keep[j] = k >= lo && k < hi;
      }
      compact_quad(src, b + 32 * u + lane, x[u], keep, base, mine, pos);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    smem.have_cand = 1;
    smem.cand_floor = lo;
    smem.ceil_cnt = smem.cnt_hi;
    smem.ceil_mass = smem.mass_hi;
    smem.ncand = static_cast<int>(smem.cnt_lo - smem.cnt_hi);
  }
  __syncthreads();
}

/**
 * The largest element key K >= lo0 whose mass W(K) (count, or with kMass integer weight, of the
 * elements with key >= K) reaches the target (top_k: k; top_p: ceil(top_p * W(lo0))). lo0 itself
 * is taken to satisfy it.
 */
template <bool kMass>
__device__ __noinline__ uint32_t search(const RowSource row, uint32_t lo0, unsigned long long k, float top_p) {
  const int warp = threadIdx.x >> 5;
  __syncthreads();  // the previous phase has read the shared state
  if (warp == 0) smem.wcnt_hi[threadIdx.x] = 0u;
  if (threadIdx.x == 0) {
    if (smem.ceil_cnt != 0) smem.have_cand = 0;  // a band of another search: no use here
    smem.lo = lo0;
    smem.hi = smem.kmax + 1;
    smem.cnt_lo = UINT_MAX;
    smem.cnt_hi = 0;
    smem.mass_hi = 0;
    smem.cnt_known = 0;
    smem.steps = 0;
    smem.first = 1;
    smem.spec_ok = 0;
    smem.target = k;
  }
  __syncthreads();
  for (;;) {
    const uint32_t lo = smem.lo, hi = smem.hi;
    if (hi - lo <= 1) break;
    const bool in_cand = smem.have_cand && lo >= smem.cand_floor;
    if (!in_cand && smem.cnt_known && smem.cnt_lo - smem.cnt_hi <= static_cast<uint32_t>(kCap)) {
      compact_row(row, lo, hi);
      continue;
    }
    const uint32_t mid = next_pivot(lo, hi, smem.steps);
    const bool first = smem.first != 0;
    const bool spec = !in_cand && !smem.have_cand;  // never overwrite candidates that may still serve
    if (in_cand) {
      eval_pivot<kMass, false>(CandSource(smem.ncand), lo, mid, first);
    } else if (spec) {
      eval_pivot<kMass, true>(row, lo, mid, first);
    } else {
      eval_pivot<kMass, false>(row, lo, mid, first);
    }
    if (warp == 0) update_bracket<kMass>(lo, mid, first, spec, in_cand, top_p);
    __syncthreads();
    if (smem.spec_ok) pack_candidates();
  }
  return smem.lo;
}

/** z of a logit: (x - xmax) / t in f32, at most 0 and never NaN for finite xmax (overflow is -inf). */
__device__ __forceinline__ float z_of(float x, float xmax, float t) { return __fdiv_rn(__fsub_rn(x, xmax), t); }

/** The smallest key K with z_of(from_key(K)) >= tau: the kept set {z >= tau} as {key >= K}. */
__device__ __noinline__ uint32_t z_threshold_key(float tau, float xmax, float t) {
  __syncthreads();
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    uint32_t lo = kKeyNegInf - 1, hi = kKeyPosInf;  // lo fails (below -inf), hi passes (+inf / t)
    while (hi - lo > 1) {
      const uint32_t step = (hi - lo + 31) / 32;
      const uint32_t probe = lo + step * static_cast<uint32_t>(lane + 1);
      const bool pass = probe >= hi || z_of(from_key(probe), xmax, t) >= tau;
      const uint32_t ballot = __ballot_sync(kFull, pass);
      const int f = __ffs(ballot) - 1;  // lane 31's probe is >= hi, so ballot != 0
      const uint32_t at = __shfl_sync(kFull, probe, f);
      const uint32_t prev = __shfl_sync(kFull, probe, f > 0 ? f - 1 : 0);
      if (f > 0) lo = prev;
      hi = min(hi, at);
    }
    if (lane == 0) smem.thr = hi;
  }
  __syncthreads();
  return smem.thr;
}

// ---------------------------------------------------------------------------------------------
// Phase 3: the draw.

/**
 * Finds the first element in index order whose running weight (over keys >= kthr) exceeds
 * floor(u * total) and writes it. Each level splits the range into 32 parts, one per warp, and
 * keeps the part where the running weight crosses the target; integer sums make the crossing exact.
 */
template <class Src>
__device__ __noinline__ void descend(const Src src, uint32_t kthr, uint32_t bits24, const float* row, int32_t* out_token,
                                     float* out_logprob) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const float xmax = smem.xmax, c = smem.c;
  int qa = 0, qb = src.nq;
  unsigned long long carry = 0, target = 0;
  bool have_target = false;
  __syncthreads();
  while (qb - qa > 32) {
    const int size = (qb - qa + kWarps - 1) / kWarps;
    const int pa = min(qa + warp * size, qb), pb = min(pa + size, qb);
    unsigned long long part = 0;
    for (int b = pa; b < pb; b += 32 * kUnroll) {
      float x[kUnroll][4];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) src.load(b + 32 * u + lane, pb, x[u]);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if (key_of(x[u][j]) >= kthr) part += weight(x[u][j], xmax, c);
        }
      }
    }
    part = warp_sum_u64(part);
    if (lane == 0) smem.w_tot[warp] = part;
    __syncthreads();
    if (warp == 0) {
      const unsigned long long v = smem.w_tot[lane];
      const unsigned long long incl = warp_inclusive_scan_u64(v);
      const unsigned long long tg = have_target ? target : scale_target(bits24, __shfl_sync(kFull, incl, 31));
      const uint32_t hit = __ballot_sync(kFull, carry + incl > tg);
      const int f = hit ? __ffs(hit) - 1 : kWarps - 1;
      const unsigned long long skipped = __shfl_sync(kFull, incl - v, f);
      if (lane == 0) {
        smem.d_qa = min(qa + f * size, qb);
        smem.d_qb = min(qa + (f + 1) * size, qb);
        smem.d_carry = carry + skipped;
        smem.d_target = tg;
      }
    }
    __syncthreads();
    qa = smem.d_qa;
    qb = smem.d_qb;
    carry = smem.d_carry;
    target = smem.d_target;
    have_target = true;
  }
  if (warp != 0) return;
  const int q = qa + lane;
  float x[4];
  src.load(q, qb, x);
  unsigned long long w[4], own = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    w[j] = key_of(x[j]) >= kthr ? weight(x[j], xmax, c) : 0ull;
    own += w[j];
  }
  const unsigned long long incl = warp_inclusive_scan_u64(own);
  if (!have_target) target = scale_target(bits24, __shfl_sync(kFull, incl, 31));
  const uint32_t hit = __ballot_sync(kFull, carry + incl > target);
  if (hit == 0) {  // unreachable: the total exceeds the target and sums are exact
    if (lane == 0) {
      const int t = smem.argmax == INT_MAX ? 0 : smem.argmax;
      *out_token = t;
      *out_logprob = row[t] - smem.lse;
    }
    return;
  }
  if (lane == __ffs(hit) - 1) {
    unsigned long long run = carry + incl - own;
    int pick = 3;
    bool found = false;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      run += w[j];
      if (!found && run > target) {
        pick = j;
        found = true;
      }
    }
    *out_token = src.index(q, pick);
    *out_logprob = x[pick] - smem.lse;
  }
}

// ---------------------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads, 1) sample_rows(const Params p) {
  const int row = blockIdx.x;
  const RowSource src(p.logits + static_cast<size_t>(row) * static_cast<size_t>(p.vocab), p.vocab);
  const float temperature = p.temperature[row];
  const bool sampled = temperature >= FLT_MIN;  // 0, subnormal, negative and NaN temperatures are greedy
  if (threadIdx.x == 0) {
    smem.have_cand = 0;
    smem.ceil_cnt = 0;
  }
  if (sampled) {
    row_stats<true>(src);
  } else {
    row_stats<false>(src);
  }
  const float xmax = smem.xmax;
  if (!sampled || !(fabsf(xmax) < INFINITY)) {
    // Greedy: the first index of the max. A sampled row whose max is +-inf has no finite mass;
    // the reference then takes its last index.
    if (threadIdx.x == 0) {
      const int t = !sampled ? (smem.argmax == INT_MAX ? 0 : smem.argmax) : p.vocab - 1;
      p.out_token[row] = t;
      p.out_logprob[row] = src.row[t] - smem.lse;
    }
    return;
  }
  const float t = fminf(temperature, FLT_MAX);
  if (threadIdx.x == 0) {
    smem.c = kLog2e / t;  // finite: t >= FLT_MIN
    smem.kmax = key_of(xmax);
  }
  // (search and z_threshold_key begin with a barrier, after which c and kmax are visible)

  float tau = -INFINITY;  // the kept set is {z >= tau}; z <= 0, and z = 0 at the max
  const float min_p = p.min_p[row];
  if (min_p > 0.f) {
    // log(min_p) in double, as the reference; the smallest float >= it keeps the same z.
    const double exact = log(static_cast<double>(min_p));
    float f = static_cast<float>(exact);
    if (static_cast<double>(f) < exact) f = nextafterf(f, INFINITY);
    tau = fminf(f, 0.f);
  }
  uint32_t floor_k = kKeyNegInf;  // {key >= floor_k} = {z >= tau_k}
  const int32_t top_k = p.top_k[row];
  if (top_k > 0 && top_k < p.vocab) {
    const uint32_t a = search<false>(src, kKeyNegInf, static_cast<unsigned long long>(top_k), 1.f);
    const float tau_k = z_of(from_key(a), xmax, t);
    tau = fmaxf(tau, tau_k);
    floor_k = z_threshold_key(tau_k, xmax, t);
  }
  const float top_p = p.top_p[row];
  if (top_p < 1.f) {
    const uint32_t a = search<true>(src, floor_k, 0ull, top_p);
    tau = fmaxf(tau, z_of(from_key(a), xmax, t));
  }
  const uint32_t kthr = tau == -INFINITY ? kKeyNegInf : z_threshold_key(tau, xmax, t);
  const uint32_t bits24 = uniform_bits(p.seed[row], p.step[row]);
  __syncthreads();
  if (smem.have_cand && smem.ceil_cnt == 0 && kthr >= smem.cand_floor) {
    descend(CandSource(smem.ncand), kthr, bits24, src.row, p.out_token + row, p.out_logprob + row);
  } else {
    descend(src, kthr, bits24, src.row, p.out_token + row, p.out_logprob + row);
  }
}

}  // namespace ignis::sampling::detail
