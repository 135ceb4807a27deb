// Correctness tests and benchmarks of the Ignis attention kernels (standalone program).
//
//   ./attention_test            all correctness cases (exit code 1 if any fails)
//   ./attention_test --small    a few tiny cases (for compute-sanitizer memcheck / racecheck)
//   ./attention_test --bench [--ceiling-gbs 3000] [--ceiling-tflops 798]
//
// The reference is computed on the CPU in double precision, as plainly as possible, from dense
// per-sequence copies of K/V gathered through the block tables. bf16 inputs are rounded first and
// the reference sees the rounded values; an fp8 cache holds e4m3 codes of x / scale (encoded on
// the host by cuda_fp8.h) and the reference sees code * scale, decoded here independently.
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attention.cuh"
#include "attention_internal.cuh"

using ignis::attention::DType;
using ignis::attention::KvFormat;
using ignis::attention::Params;
namespace detail = ignis::attention::detail;

#define CK(call)                                                                                  \
  do {                                                                                            \
    const cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(2);                                                                               \
    }                                                                                             \
  } while (0)

// ------------------------------------------------------------------------------------------------
// Host helpers
// ------------------------------------------------------------------------------------------------

static uint16_t f2bf(float f) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

static float bf2f(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

static size_t esize(DType t) { return t == DType::F32 ? 4 : 2; }

// e4m3 code -> value, from the format's definition (bias 7, 3 mantissa bits, S.1111.111 NaN).
static double e4m3_value(uint8_t code) {
  const double sign = (code & 0x80) ? -1.0 : 1.0;
  const int exponent = (code >> 3) & 15;
  const int mantissa = code & 7;
  if ((code & 0x7f) == 0x7f) return NAN;
  if (exponent == 0) return sign * std::ldexp(mantissa, -9);
  return sign * std::ldexp(8 + mantissa, exponent - 10);
}

// Random values in [lo, hi] stored as e4m3 codes of x / scale (round to nearest even, saturating);
// `vals` gets what attention must read: code * scale.
static void fill_random_fp8(std::mt19937& rng, size_t n, float lo, float hi, float scale, std::vector<double>& vals,
                            std::vector<unsigned char>& bytes) {
  std::uniform_real_distribution<float> dist(lo, hi);
  vals.resize(n);
  bytes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t code = __nv_cvt_float_to_fp8(dist(rng) / scale, __NV_SATFINITE, __NV_E4M3);
    bytes[i] = code;
    vals[i] = e4m3_value(code) * static_cast<double>(scale);
  }
}

// Random values, rounded to the element type; `vals` gets what the device sees, `bytes` the raw data.
static void fill_random(std::mt19937& rng, DType t, size_t n, float lo, float hi, std::vector<double>& vals,
                        std::vector<unsigned char>& bytes) {
  std::uniform_real_distribution<float> dist(lo, hi);
  vals.resize(n);
  bytes.resize(n * esize(t));
  for (size_t i = 0; i < n; ++i) {
    float x = dist(rng);
    if (t == DType::BF16) {
      const uint16_t b = f2bf(x);
      x = bf2f(b);
      std::memcpy(&bytes[i * 2], &b, 2);
    } else {
      std::memcpy(&bytes[i * 4], &x, 4);
    }
    vals[i] = x;
  }
}

static double to_double(DType t, const unsigned char* p) {
  if (t == DType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t b;
  std::memcpy(&b, p, 2);
  return bf2f(b);
}

// ------------------------------------------------------------------------------------------------
// Test case: a batch of sequences over a paged cache
// ------------------------------------------------------------------------------------------------

struct Seq {
  int ctx;  // seq_lens[s]: context length including this step's rows
  int nq;   // query rows this step
};

struct Case {
  std::string name;
  DType dtype;
  KvFormat kv = KvFormat::Plain;
  float k_scale = 1.f, v_scale = 1.f;  // fp8 caches
  int D, H, KVH, bs, window;
  std::vector<Seq> seqs;
  int extra_ctx = 0;  // graph mode: max_context_len (and the block tables) this much past the real maximum
  int lead = 0;       // rows before the first sequence (query_start[0] = lead): must come back as zeros
  int pad = 0;        // rows after the last sequence: must come back as zeros
  uint32_t seed = 1;
};

struct Batch {
  Params p{};
  int num_blocks = 0;
  std::vector<double> q, k, v;          // host copies (rounded values)
  std::vector<int32_t> bt, lens, qs;    // host copies
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  void* dout = nullptr;
  int32_t *dbt = nullptr, *dlens = nullptr, *dqs = nullptr;
  size_t out_bytes = 0;
};

static void build(const Case& c, Batch& b) {
  std::mt19937 rng(c.seed);
  const int ns = static_cast<int>(c.seqs.size());
  int max_ctx = 1, max_q = 1, tokens = c.lead;
  for (const Seq& s : c.seqs) {
    max_ctx = std::max(max_ctx, s.ctx);
    max_q = std::max(max_q, s.nq);
    tokens += s.nq;
  }
  tokens += c.pad;
  const int cap_ctx = max_ctx + c.extra_ctx;
  const int mbps = (cap_ctx + c.bs - 1) / c.bs;
  int used = 0;
  for (const Seq& s : c.seqs) used += (s.ctx + c.bs - 1) / c.bs;
  b.num_blocks = used + 7;  // spare blocks nobody owns
  std::vector<int32_t> perm(b.num_blocks);
  for (int i = 0; i < b.num_blocks; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);  // random, non-contiguous tables
  b.bt.assign(static_cast<size_t>(ns) * mbps, -1);  // entries past a sequence's length: poison
  int next = 0;
  for (int s = 0; s < ns; ++s)
    for (int j = 0; j < (c.seqs[s].ctx + c.bs - 1) / c.bs; ++j) b.bt[static_cast<size_t>(s) * mbps + j] = perm[next++];
  b.lens.resize(ns);
  b.qs.resize(ns + 1);
  b.qs[0] = c.lead;
  for (int s = 0; s < ns; ++s) {
    b.lens[s] = c.seqs[s].ctx;
    b.qs[s + 1] = b.qs[s] + c.seqs[s].nq;
  }

  const size_t kv_elems = static_cast<size_t>(b.num_blocks) * c.bs * c.KVH * c.D;
  const size_t q_elems = static_cast<size_t>(tokens) * c.H * c.D;
  std::vector<unsigned char> qb, kb, vb;
  fill_random(rng, c.dtype, q_elems, -4.f, 4.f, b.q, qb);  // wide enough for peaked softmaxes
  if (c.kv == KvFormat::FP8E4M3) {
    fill_random_fp8(rng, kv_elems, -1.f, 1.f, c.k_scale, b.k, kb);
    fill_random_fp8(rng, kv_elems, -1.f, 1.f, c.v_scale, b.v, vb);
  } else {
    fill_random(rng, c.dtype, kv_elems, -1.f, 1.f, b.k, kb);
    fill_random(rng, c.dtype, kv_elems, -1.f, 1.f, b.v, vb);
  }

  CK(cudaMalloc(&b.dq, std::max<size_t>(qb.size(), 16)));
  CK(cudaMalloc(&b.dk, kb.size()));
  CK(cudaMalloc(&b.dv, vb.size()));
  b.out_bytes = q_elems * esize(c.dtype);
  CK(cudaMalloc(&b.dout, std::max<size_t>(b.out_bytes, 16)));
  CK(cudaMalloc(&b.dbt, std::max<size_t>(b.bt.size(), 1) * 4));
  CK(cudaMalloc(&b.dlens, std::max(ns, 1) * 4));
  CK(cudaMalloc(&b.dqs, (ns + 1) * 4));
  if (!qb.empty()) CK(cudaMemcpy(b.dq, qb.data(), qb.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b.dk, kb.data(), kb.size(), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b.dv, vb.data(), vb.size(), cudaMemcpyHostToDevice));
  if (!b.bt.empty()) CK(cudaMemcpy(b.dbt, b.bt.data(), b.bt.size() * 4, cudaMemcpyHostToDevice));
  if (ns > 0) CK(cudaMemcpy(b.dlens, b.lens.data(), ns * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b.dqs, b.qs.data(), (ns + 1) * 4, cudaMemcpyHostToDevice));

  Params& p = b.p;
  p.dtype = c.dtype;
  p.kv_format = c.kv;
  p.k_scale = c.k_scale;
  p.v_scale = c.v_scale;
  p.q = b.dq;
  p.k_cache = b.dk;
  p.v_cache = b.dv;
  p.out = b.dout;
  p.block_tables = b.dbt;
  p.seq_lens = b.dlens;
  p.query_start = b.dqs;
  p.num_seqs = ns;
  p.num_tokens = tokens;
  p.num_heads = c.H;
  p.num_kv_heads = c.KVH;
  p.head_dim = c.D;
  p.block_size = c.bs;
  p.max_blocks_per_seq = mbps;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.D)));
  p.sliding_window = c.window;
  p.max_query_len = max_q;
  p.max_context_len = cap_ctx;
}

static void release(Batch& b) {
  cudaFree(b.dq);
  cudaFree(b.dk);
  cudaFree(b.dv);
  cudaFree(b.dout);
  cudaFree(b.dbt);
  cudaFree(b.dlens);
  cudaFree(b.dqs);
}

// The reference: dense per-sequence K/V, explicit loops, double precision. Rows of no sequence: 0.
static std::vector<double> reference(const Case& c, const Batch& b) {
  const int H = c.H, KVH = c.KVH, D = c.D, bs = c.bs;
  const int group = H / KVH;
  const int mbps = b.p.max_blocks_per_seq;
  std::vector<double> out(static_cast<size_t>(b.p.num_tokens) * H * D, 0.0);
  for (size_t s = 0; s < c.seqs.size(); ++s) {
    const int ctx = c.seqs[s].ctx;
    const int n = c.seqs[s].nq;
    // Dense copies of this sequence's K and V: [ctx][KVH][D].
    std::vector<double> K(static_cast<size_t>(ctx) * KVH * D), V(K.size());
    for (int pos = 0; pos < ctx; ++pos) {
      const int block = b.bt[s * mbps + pos / bs];
      const size_t slot = static_cast<size_t>(block) * bs + pos % bs;
      for (int x = 0; x < KVH * D; ++x) {
        K[static_cast<size_t>(pos) * KVH * D + x] = b.k[slot * KVH * D + x];
        V[static_cast<size_t>(pos) * KVH * D + x] = b.v[slot * KVH * D + x];
      }
    }
    std::vector<double> score(ctx);
    for (int j = 0; j < n; ++j) {
      const int t = b.qs[s] + j;
      const int p = ctx - n + j;
      const int start = c.window > 0 ? std::max(0, p + 1 - c.window) : 0;
      for (int h = 0; h < H; ++h) {
        const int kvh = h / group;
        const double* q = &b.q[(static_cast<size_t>(t) * H + h) * D];
        double mx = -INFINITY;
        for (int key = start; key <= p; ++key) {
          const double* kk = &K[(static_cast<size_t>(key) * KVH + kvh) * D];
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += q[d] * kk[d];
          score[key] = dot * static_cast<double>(b.p.scale);
          mx = std::max(mx, score[key]);
        }
        double total = 0.0;
        std::vector<double> acc(D, 0.0);
        for (int key = start; key <= p; ++key) {
          const double w = std::exp(score[key] - mx);
          total += w;
          const double* vv = &V[(static_cast<size_t>(key) * KVH + kvh) * D];
          for (int d = 0; d < D; ++d) acc[d] += w * vv[d];
        }
        for (int d = 0; d < D; ++d) out[(static_cast<size_t>(t) * H + h) * D + d] = acc[d] / total;
      }
    }
  }
  return out;
}

// Which code path a run exercises.
enum class Path {
  Public,        // ignis::attention::launch (what the engine calls)
  PublicGraph,   // the same, captured in a CUDA graph and replayed
  PagedDirect,   // paged kernel, partitions picked as launch() would (for bf16 prefill: forced paged)
  PagedSplit,    // paged kernel, 128-key partitions + combine
  PagedNoSplit,  // paged kernel, one partition (each block walks the whole context, out written directly)
  PrefillHP1,    // tensor-core kernel with one query head per block (launch() pairs heads when it can)
  PagedCudaCores,  // bf16 decode over an fp8 cache on the CUDA-core kernel (launch() takes paged_decode_mma.cu)
};

static const char* path_name(Path p) {
  switch (p) {
    case Path::Public: return "launch";
    case Path::PublicGraph: return "graph";
    case Path::PagedDirect: return "paged";
    case Path::PagedSplit: return "paged-split128";
    case Path::PagedNoSplit: return "paged-nosplit";
    case Path::PrefillHP1: return "prefill-1head";
    case Path::PagedCudaCores: return "paged-cuda-cores";
  }
  return "?";
}

static size_t path_workspace(Path path, const Params& p) {
  switch (path) {
    case Path::Public:
    case Path::PublicGraph: return ignis::attention::workspace_bytes(p);
    case Path::PagedDirect: return detail::paged_workspace_bytes(p, 0);
    case Path::PagedSplit: return detail::paged_workspace_bytes(p, 128);
    case Path::PagedNoSplit: return detail::paged_workspace_bytes(p, 1 << 30);
    case Path::PrefillHP1: return 0;
    case Path::PagedCudaCores: return detail::paged_workspace_bytes(p, 0);
  }
  return 0;
}

static cudaError_t run_path(Path path, const Params& p, void* ws, cudaStream_t st) {
  switch (path) {
    case Path::Public: return ignis::attention::launch(p, ws, st);
    case Path::PublicGraph: {
      cudaGraph_t graph;
      cudaGraphExec_t exec;
      CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
      const cudaError_t err = ignis::attention::launch(p, ws, st);
      CK(cudaStreamEndCapture(st, &graph));
      if (err != cudaSuccess) return err;
      CK(cudaGraphInstantiate(&exec, graph, 0));
      CK(cudaGraphLaunch(exec, st));
      CK(cudaStreamSynchronize(st));
      CK(cudaGraphExecDestroy(exec));
      CK(cudaGraphDestroy(graph));
      return cudaSuccess;
    }
    case Path::PagedDirect: return detail::launch_paged(p, ws, st, 0);
    case Path::PagedSplit: return detail::launch_paged(p, ws, st, 128);
    case Path::PagedNoSplit: return detail::launch_paged(p, ws, st, 1 << 30);
    case Path::PrefillHP1: return detail::launch_prefill(p, st, 1);
    case Path::PagedCudaCores: return detail::launch_paged(p, ws, st, 0, false);
  }
  return cudaErrorInvalidValue;
}

// Runs one path twice (out and workspace poisoned with NaN each time); checks every element was
// written, both runs are bit-identical, and the relative L2 error against the reference.
static bool check_path(const Case& c, Batch& b, const std::vector<double>& ref, Path path, cudaStream_t st) {
  const size_t wsb = path_workspace(path, b.p);
  void* ws = nullptr;
  if (wsb > 0) CK(cudaMalloc(&ws, wsb));
  std::vector<unsigned char> got[2];
  for (int run = 0; run < 2; ++run) {
    CK(cudaMemsetAsync(b.dout, 0xff, b.out_bytes, st));  // NaN in f32 and bf16
    if (wsb > 0) CK(cudaMemsetAsync(ws, 0xff, wsb, st));
    CK(run_path(path, b.p, ws, st));
    CK(cudaGetLastError());
    CK(cudaStreamSynchronize(st));
    got[run].resize(b.out_bytes);
    CK(cudaMemcpy(got[run].data(), b.dout, b.out_bytes, cudaMemcpyDeviceToHost));
  }
  if (ws) CK(cudaFree(ws));

  const size_t n = ref.size();
  size_t unwritten = 0, nonzero_orphans = 0;
  double err2 = 0.0, ref2 = 0.0;
  const int row = c.H * c.D;
  for (size_t i = 0; i < n; ++i) {
    const double x = to_double(c.dtype, &got[0][i * esize(c.dtype)]);
    if (!std::isfinite(x)) {
      ++unwritten;
      continue;
    }
    const int t = static_cast<int>(i / row);
    if ((t < b.qs.front() || t >= b.qs.back()) && x != 0.0) ++nonzero_orphans;
    err2 += (x - ref[i]) * (x - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  const bool same = got[0] == got[1];
  const double rel = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  const double tol = c.dtype == DType::F32 ? 1e-5 : 2e-2;
  const bool pass = unwritten == 0 && nonzero_orphans == 0 && same && rel < tol;
  const char* types = c.kv == KvFormat::FP8E4M3 ? (c.dtype == DType::F32 ? "f32+fp8" : "bf16+fp8") : (c.dtype == DType::F32 ? "f32" : "bf16");
  std::printf("%-44s %-8s %-15s rel_err %.3e  %s", c.name.c_str(), types, path_name(path), rel, pass ? "PASS" : "FAIL");
  if (unwritten) std::printf("  [%zu unwritten/NaN]", unwritten);
  if (nonzero_orphans) std::printf("  [%zu nonzero orphan rows]", nonzero_orphans);
  if (!same) std::printf("  [runs differ]");
  std::printf("\n");
  return pass;
}

static bool run_case(const Case& c, cudaStream_t st) {
  Batch b;
  build(c, b);
  const std::vector<double> ref = reference(c, b);
  bool ok = true;
  std::vector<Path> paths = {Path::Public};
  if (c.extra_ctx > 0 || c.pad > 0) paths.push_back(Path::PublicGraph);
  const bool prefill_path = c.dtype == DType::BF16 && b.p.max_query_len > 1;
  if (prefill_path) paths.push_back(Path::PagedDirect);  // the CUDA-core kernel on the same rows
  if (prefill_path && detail::prefill_heads_per_block(b.p, 0) == 2) paths.push_back(Path::PrefillHP1);
  if (detail::decode_mma_supports(b.p)) paths.push_back(Path::PagedCudaCores);
  paths.push_back(Path::PagedSplit);
  paths.push_back(Path::PagedNoSplit);
  for (Path path : paths) ok = check_path(c, b, ref, path, st) && ok;
  release(b);
  return ok;
}

// Appends an fp8-cache copy (both activation dtypes) of each case named in `names`: K stored as
// e4m3(k * 480) (|k| > 0.93 saturates at 448), V as e4m3(v / 0.05) (|v| < 7.8e-4 gets subnormal codes).
static void with_fp8_caches(std::vector<Case>& cs, const std::vector<std::string>& names) {
  const size_t plain = cs.size();
  for (const std::string& name : names) {
    bool found = false;
    for (size_t i = 0; i < plain; ++i) {
      if (cs[i].name != name) continue;
      Case c = cs[i];
      c.name += "_fp8";
      c.kv = KvFormat::FP8E4M3;
      c.k_scale = 1.f / 480.f;
      c.v_scale = 0.05f;
      c.seed += 1000;
      cs.push_back(c);
      found = true;
    }
    if (!found) {
      std::fprintf(stderr, "with_fp8_caches: no case named %s\n", name.c_str());
      std::exit(2);
    }
  }
}

static std::vector<Case> all_cases() {
  std::vector<Case> cs;
  const std::vector<Seq> decode_mix = {{1, 1}, {15, 1}, {16, 1}, {17, 1}, {500, 1}, {3000, 1}};
  uint32_t seed = 100;
  auto add = [&](std::string name, int D, int H, int KVH, int bs, int window, std::vector<Seq> seqs, int extra = 0,
                 int lead = 0, int pad = 0) {
    for (DType t : {DType::F32, DType::BF16}) {
      Case c;
      c.name = name;
      c.dtype = t;
      c.D = D;
      c.H = H;
      c.KVH = KVH;
      c.bs = bs;
      c.window = window;
      c.seqs = seqs;
      c.extra_ctx = extra;
      c.lead = lead;
      c.pad = pad;
      c.seed = seed++;
      cs.push_back(c);
    }
  };
  // Decode: one row per sequence, mixed context lengths.
  add("decode_gqa4_d128_bs16", 128, 32, 8, 16, 0, decode_mix);
  add("decode_mha_d64_bs32", 64, 8, 8, 32, 0, decode_mix);
  add("decode_gqa8_d128_bs16", 128, 32, 4, 16, 0, decode_mix);
  add("decode_mqa_h16_d32_bs16", 32, 16, 1, 16, 0, decode_mix);
  add("decode_gqa4_d16_bs32", 16, 8, 2, 32, 0, decode_mix);
  add("decode_gqa4_d256_bs16", 256, 8, 2, 16, 0, decode_mix);
  add("decode_gqa3_d64_bs16", 64, 12, 4, 16, 0, decode_mix);
  add("decode_gqa4_d128_window256", 128, 32, 8, 16, 256, decode_mix);
  add("decode_gqa4_d64_graph_pad", 64, 16, 4, 16, 0, decode_mix, 8192, 0, 3);
  add("decode_batch64_ctx700", 128, 8, 2, 16, 0, std::vector<Seq>(64, Seq{700, 1}));
  add("decode_gqa4_d64_bs1", 64, 8, 2, 1, 0, decode_mix);
  // Prefill only (query rows == context).
  add("prefill_gqa4_d128_bs16", 128, 16, 4, 16, 0, {{37, 37}, {64, 64}, {130, 130}, {300, 300}});
  add("prefill_mha_d64_bs32", 64, 4, 4, 32, 0, {{200, 200}, {65, 65}});
  add("prefill_mqa_d32_bs16", 32, 8, 1, 16, 0, {{100, 100}, {129, 129}});
  add("prefill_gqa2_d16_bs32", 16, 4, 2, 32, 0, {{90, 90}, {1, 1}});
  add("prefill_gqa2_d256_bs16", 256, 4, 2, 16, 0, {{150, 150}, {31, 31}});
  add("prefill_gqa3_d64_bs16", 64, 6, 2, 16, 0, {{90, 90}, {40, 1}});
  // Mixed batches (decode rows, prefills, an empty sequence).
  add("mixed_gqa4_d128_bs16", 128, 16, 4, 16, 0, {{1000, 1}, {77, 77}, {17, 1}, {200, 129}, {5, 5}, {64, 0}, {1, 1}});
  add("mixed_gqa4_d64_bs32_window48", 64, 8, 2, 32, 48, {{1000, 1}, {77, 77}, {17, 1}, {200, 129}, {5, 5}});
  add("mixed_window1_d32", 32, 4, 2, 16, 1, {{50, 50}, {10, 1}, {70, 3}});
  // Chunked prefill: query rows at the end of a longer context.
  add("chunked_gqa4_d128_bs16", 128, 8, 2, 16, 0, {{3000, 200}, {700, 64}, {130, 65}, {900, 1}});
  add("chunked_mha_d64_bs16_window100", 64, 4, 4, 16, 100, {{1500, 150}, {400, 33}, {260, 1}});
  add("chunked_gqa8_d128_bs32", 128, 16, 2, 32, 0, {{2000, 100}, {129, 64}});
  // Graph mode: max_context_len past the real lengths, rows before and after the sequences.
  add("chunked_gqa4_d64_graph_lead_pad", 64, 8, 2, 16, 0, {{600, 70}, {33, 1}, {300, 17}}, 4096, 3, 5);
  with_fp8_caches(cs, {"decode_gqa4_d128_bs16", "decode_gqa8_d128_bs16", "decode_mqa_h16_d32_bs16", "decode_gqa4_d16_bs32",
                       "decode_gqa4_d256_bs16", "decode_gqa3_d64_bs16", "decode_gqa4_d128_window256", "decode_gqa4_d64_graph_pad",
                       "decode_batch64_ctx700", "decode_gqa4_d64_bs1", "prefill_gqa4_d128_bs16", "prefill_mqa_d32_bs16",
                       "prefill_gqa2_d16_bs32", "prefill_gqa2_d256_bs16", "mixed_gqa4_d128_bs16", "mixed_window1_d32",
                       "chunked_gqa8_d128_bs32", "chunked_gqa4_d64_graph_lead_pad"});
  return cs;
}

static std::vector<Case> small_cases() {
  std::vector<Case> cs;
  uint32_t seed = 7;
  auto add = [&](std::string name, DType t, int D, int H, int KVH, int bs, int window, std::vector<Seq> seqs,
                 int extra = 0, int lead = 0, int pad = 0) {
    Case c;
    c.name = name;
    c.dtype = t;
    c.D = D;
    c.H = H;
    c.KVH = KVH;
    c.bs = bs;
    c.window = window;
    c.seqs = seqs;
    c.extra_ctx = extra;
    c.lead = lead;
    c.pad = pad;
    c.seed = seed++;
    cs.push_back(c);
  };
  add("small_decode", DType::F32, 32, 4, 2, 16, 0, {{1, 1}, {17, 1}, {40, 1}}, 0, 0, 1);
  add("small_decode", DType::BF16, 64, 4, 1, 16, 0, {{3, 1}, {33, 1}}, 64, 0, 0);
  add("small_mixed", DType::BF16, 64, 4, 2, 16, 0, {{5, 5}, {90, 70}, {9, 1}}, 0, 2, 1);
  add("small_mixed_window", DType::BF16, 32, 2, 1, 32, 20, {{70, 66}, {12, 1}});
  add("small_mixed", DType::F32, 16, 2, 2, 16, 0, {{20, 9}, {4, 1}});
  add("small_decode_long", DType::BF16, 32, 2, 1, 16, 0, {{1100, 1}, {520, 1}});
  with_fp8_caches(cs, {"small_decode", "small_mixed"});
  return cs;
}

static bool check_validation() {
  Params p{};
  p.dtype = DType::BF16;
  p.num_seqs = 1;
  p.num_tokens = 1;
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_dim = 128;
  p.block_size = 16;
  p.max_blocks_per_seq = 1;
  p.scale = 1.f;
  p.max_query_len = 1;
  p.max_context_len = 16;
  bool ok = true;
  auto expect_bad = [&](const char* what, Params x) {
    const cudaError_t e = ignis::attention::launch(x, nullptr, 0);
    cudaGetLastError();
    if (e != cudaErrorInvalidValue) {
      std::printf("validation %-40s FAIL (got %s)\n", what, cudaGetErrorString(e));
      ok = false;
    }
  };
  expect_bad("null pointers", p);
  // Real (unused) buffers for the other checks, so that only the named field is wrong.
  void* buf = nullptr;
  CK(cudaMalloc(&buf, 1 << 16));
  p.q = p.k_cache = p.v_cache = buf;
  p.out = buf;
  p.block_tables = p.seq_lens = p.query_start = static_cast<const int32_t*>(buf);
  Params x = p;
  x.head_dim = 48;
  expect_bad("head_dim 48", x);
  x = p;
  x.num_kv_heads = 3;
  expect_bad("heads not divisible", x);
  x = p;
  x.block_size = 24;
  expect_bad("block_size 24", x);
  x = p;
  x.max_query_len = 0;
  expect_bad("max_query_len 0", x);
  x = p;
  x.out = static_cast<char*>(buf) + 4;
  expect_bad("misaligned out", x);
  x = p;
  x.sliding_window = -1;
  expect_bad("negative window", x);
  x = p;
  x.k_scale = 2.f;
  expect_bad("scaled plain cache", x);
  x = p;
  x.kv_format = KvFormat::FP8E4M3;
  x.v_scale = 0.f;
  expect_bad("fp8 cache, v_scale 0", x);
  x.v_scale = NAN;
  expect_bad("fp8 cache, v_scale NaN", x);
  x.v_scale = 1.f;
  x.k_scale = -1.f;
  expect_bad("fp8 cache, negative k_scale", x);
  CK(cudaFree(buf));
  std::printf("validation of bad parameters %s\n", ok ? "PASS" : "FAIL");
  return ok;
}

// ------------------------------------------------------------------------------------------------
// Benchmarks
// ------------------------------------------------------------------------------------------------

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Decode: batch B, context ctx, 32 heads / 8 kv heads, head_dim 128, bf16, block 16, a bf16 or
// an fp8 cache. K/V rotate over enough disjoint block sets to keep the working set out of L2.
static void bench_decode(int B, int ctx, double ceiling_gbs, int partition_override, const char* label, cudaStream_t st,
                         KvFormat kv = KvFormat::Plain, bool tensor_cores = true) {
  const int H = 32, KVH = 8, D = 128, bs = 16;
  const int mbps = ctx / bs;
  const size_t kv_elem = kv == KvFormat::FP8E4M3 ? 1 : 2;
  const double kv_bytes = 2.0 * B * ctx * KVH * D * kv_elem;
  const double qo_bytes = 2.0 * B * H * D * 2;
  const int sets = std::max(1, static_cast<int>(std::ceil(256e6 / kv_bytes)));
  const size_t blocks = static_cast<size_t>(sets) * B * mbps;
  const size_t kv_elems = blocks * bs * KVH * D;
  void *dk, *dv, *dq, *dout;
  CK(cudaMalloc(&dk, kv_elems * kv_elem));
  CK(cudaMalloc(&dv, kv_elems * kv_elem));
  CK(cudaMalloc(&dq, static_cast<size_t>(B) * H * D * 2));
  CK(cudaMalloc(&dout, static_cast<size_t>(B) * H * D * 2));
  CK(cudaMemset(dk, 0x3c, kv_elems * kv_elem));  // finite values (bf16 1.17, e4m3 1.5); timing only
  CK(cudaMemset(dv, 0x3c, kv_elems * kv_elem));
  CK(cudaMemset(dq, 0x3c, static_cast<size_t>(B) * H * D * 2));
  std::vector<int32_t> bt(blocks), lens(B, ctx), qs(B + 1);
  std::mt19937 rng(5);
  std::vector<int32_t> perm(blocks);
  for (size_t i = 0; i < blocks; ++i) perm[i] = static_cast<int32_t>(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (size_t i = 0; i < blocks; ++i) bt[i] = perm[i];
  for (int i = 0; i <= B; ++i) qs[i] = i;
  int32_t *dbt, *dlens, *dqs;
  CK(cudaMalloc(&dbt, blocks * 4));
  CK(cudaMalloc(&dlens, B * 4));
  CK(cudaMalloc(&dqs, (B + 1) * 4));
  CK(cudaMemcpy(dbt, bt.data(), blocks * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dlens, lens.data(), B * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dqs, qs.data(), (B + 1) * 4, cudaMemcpyHostToDevice));

  Params p{};
  p.dtype = DType::BF16;
  p.kv_format = kv;
  p.q = dq;
  p.k_cache = dk;
  p.v_cache = dv;
  p.out = dout;
  p.seq_lens = dlens;
  p.query_start = dqs;
  p.num_seqs = B;
  p.num_tokens = B;
  p.num_heads = H;
  p.num_kv_heads = KVH;
  p.head_dim = D;
  p.block_size = bs;
  p.max_blocks_per_seq = mbps;
  p.scale = 1.f / std::sqrt(static_cast<float>(D));
  p.sliding_window = 0;
  p.max_query_len = 1;
  p.max_context_len = ctx;
  const detail::PagedPlan plan = detail::plan_paged(p, partition_override);
  const size_t wsb = detail::paged_workspace_bytes(p, partition_override);
  void* ws = nullptr;
  if (wsb) CK(cudaMalloc(&ws, wsb));

  // A graph of `per_graph` launches over rotating block sets; time graph launches, divide.
  const int per_graph = 10;
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < per_graph; ++i) {
    p.block_tables = dbt + static_cast<size_t>(i % sets) * B * mbps;
    CK(detail::launch_paged(p, ws, st, partition_override, tensor_cores));
  }
  CK(cudaStreamEndCapture(st, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(cudaGraphLaunch(exec, st));
  std::vector<double> us;
  for (int r = 0; r < 25; ++r) {
    CK(cudaEventRecord(e0, st));
    CK(cudaGraphLaunch(exec, st));
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    us.push_back(ms * 1e3 / per_graph);
  }
  CK(cudaGetLastError());
  const double t = median(us);
  const double bytes = kv_bytes + qo_bytes;
  const double gbs = bytes / (t * 1e-6) / 1e9;
  const double floor_us = bytes / (ceiling_gbs * 1e9) * 1e6;
  std::printf("decode B=%-3d ctx=%d %-4s %-10s np=%-3d part=%-4d  %9.2f us  %7.1f GB/s  %5.1f%% of %.0f GB/s (floor %.2f us)\n",
              B, ctx, kv == KvFormat::FP8E4M3 ? "fp8" : "bf16", label, plan.np, plan.partition, t, gbs, 100.0 * gbs / ceiling_gbs,
              ceiling_gbs, floor_us);
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  if (ws) CK(cudaFree(ws));
  CK(cudaFree(dk));
  CK(cudaFree(dv));
  CK(cudaFree(dq));
  CK(cudaFree(dout));
  CK(cudaFree(dbt));
  CK(cudaFree(dlens));
  CK(cudaFree(dqs));
}

// Prefill: `nseq` sequences of `len` rows each (query rows == context), 32 heads / 8 kv heads,
// head_dim 128, bf16, block 16, a bf16 or an fp8 cache. FLOPs: 4 * D * H * sum over rows of keys
// attended (causal).
static void bench_prefill(int nseq, int len, double ceiling_tflops, int override_hp, cudaStream_t st,
                          KvFormat kv = KvFormat::Plain) {
  const int H = 32, KVH = 8, D = 128, bs = 16;
  const int tokens = nseq * len;
  const int mbps = (len + bs - 1) / bs;
  const size_t blocks = static_cast<size_t>(nseq) * mbps;
  const size_t kv_elems = blocks * bs * KVH * D;
  const size_t q_elems = static_cast<size_t>(tokens) * H * D;
  std::mt19937 rng(9);
  const size_t kv_elem = kv == KvFormat::FP8E4M3 ? 1 : 2;
  std::vector<uint16_t> hq(q_elems), hk(kv_elems);
  std::vector<uint8_t> hk8(kv_elems);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (auto& x : hq) x = f2bf(dist(rng));
  for (auto& x : hk) x = f2bf(dist(rng));
  for (size_t i = 0; i < kv_elems; ++i) hk8[i] = __nv_cvt_float_to_fp8(bf2f(hk[i]), __NV_SATFINITE, __NV_E4M3);
  const void* hkv = kv == KvFormat::FP8E4M3 ? static_cast<const void*>(hk8.data()) : static_cast<const void*>(hk.data());
  void *dk, *dv, *dq, *dout;
  CK(cudaMalloc(&dk, kv_elems * kv_elem));
  CK(cudaMalloc(&dv, kv_elems * kv_elem));
  CK(cudaMalloc(&dq, q_elems * 2));
  CK(cudaMalloc(&dout, q_elems * 2));
  CK(cudaMemcpy(dq, hq.data(), q_elems * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dk, hkv, kv_elems * kv_elem, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dv, hkv, kv_elems * kv_elem, cudaMemcpyHostToDevice));
  std::vector<int32_t> bt(blocks), lens(nseq, len), qs(nseq + 1);
  std::vector<int32_t> perm(blocks);
  for (size_t i = 0; i < blocks; ++i) perm[i] = static_cast<int32_t>(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (size_t i = 0; i < blocks; ++i) bt[i] = perm[i];
  for (int i = 0; i <= nseq; ++i) qs[i] = i * len;
  int32_t *dbt, *dlens, *dqs;
  CK(cudaMalloc(&dbt, blocks * 4));
  CK(cudaMalloc(&dlens, nseq * 4));
  CK(cudaMalloc(&dqs, (nseq + 1) * 4));
  CK(cudaMemcpy(dbt, bt.data(), blocks * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dlens, lens.data(), nseq * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dqs, qs.data(), (nseq + 1) * 4, cudaMemcpyHostToDevice));
  Params p{};
  p.dtype = DType::BF16;
  p.kv_format = kv;
  p.q = dq;
  p.k_cache = dk;
  p.v_cache = dv;
  p.out = dout;
  p.block_tables = dbt;
  p.seq_lens = dlens;
  p.query_start = dqs;
  p.num_seqs = nseq;
  p.num_tokens = tokens;
  p.num_heads = H;
  p.num_kv_heads = KVH;
  p.head_dim = D;
  p.block_size = bs;
  p.max_blocks_per_seq = mbps;
  p.scale = 1.f / std::sqrt(static_cast<float>(D));
  p.sliding_window = 0;
  p.max_query_len = len;
  p.max_context_len = len;
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) CK(detail::launch_prefill(p, st, override_hp));
  std::vector<double> us;
  for (int r = 0; r < 25; ++r) {
    CK(cudaEventRecord(e0, st));
    CK(detail::launch_prefill(p, st, override_hp));
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    us.push_back(ms * 1e3);
  }
  CK(cudaGetLastError());
  const double t = median(us);
  const double attended = static_cast<double>(nseq) * len * (len + 1.0) / 2.0;
  const double flops = 4.0 * D * H * attended;
  const double tflops = flops / (t * 1e-6) / 1e12;
  const double floor_us = flops / (ceiling_tflops * 1e12) * 1e6;
  std::printf("prefill %dx%-5d %-4s %-9s heads/block=%d %9.2f us  %7.1f TFLOP/s  %5.1f%% of %.0f (floor %.2f us, %.1f GFLOP)\n",
              nseq, len, kv == KvFormat::FP8E4M3 ? "fp8" : "bf16", override_hp == 0 ? "auto" : "forced",
              detail::prefill_heads_per_block(p, override_hp), t,
              tflops, 100.0 * tflops / ceiling_tflops, ceiling_tflops, floor_us, flops / 1e9);
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaFree(dk));
  CK(cudaFree(dv));
  CK(cudaFree(dq));
  CK(cudaFree(dout));
  CK(cudaFree(dbt));
  CK(cudaFree(dlens));
  CK(cudaFree(dqs));
}

int main(int argc, char** argv) {
  bool small = false, bench = false;
  double ceiling_gbs = 3000.0, ceiling_tflops = 798.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--small") small = true;
    else if (a == "--bench") bench = true;
    else if (a == "--ceiling-gbs" && i + 1 < argc) ceiling_gbs = std::atof(argv[++i]);
    else if (a == "--ceiling-tflops" && i + 1 < argc) ceiling_tflops = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--small] [--bench [--ceiling-gbs G] [--ceiling-tflops T]]\n", argv[0]);
      return 2;
    }
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));

  if (bench) {
    for (int B : {1, 8, 64}) {
      bench_decode(B, 4096, ceiling_gbs, 0, "auto", st);
      bench_decode(B, 4096, ceiling_gbs, 512, "split512", st);
      bench_decode(B, 4096, ceiling_gbs, 256, "split256", st);
      bench_decode(B, 4096, ceiling_gbs, 128, "split128", st);
      bench_decode(B, 4096, ceiling_gbs, 1 << 30, "nosplit", st);
    }
    // fp8 cache: launch()'s choice (tensor cores, paged_decode_mma.cu) beside the CUDA-core kernel.
    for (int B : {1, 8, 64}) {
      bench_decode(B, 4096, ceiling_gbs, 0, "auto", st, KvFormat::FP8E4M3);
      bench_decode(B, 4096, ceiling_gbs, 512, "split512", st, KvFormat::FP8E4M3);
      bench_decode(B, 4096, ceiling_gbs, 256, "split256", st, KvFormat::FP8E4M3);
      bench_decode(B, 4096, ceiling_gbs, 128, "split128", st, KvFormat::FP8E4M3);
      bench_decode(B, 4096, ceiling_gbs, 1 << 30, "nosplit", st, KvFormat::FP8E4M3);
      bench_decode(B, 4096, ceiling_gbs, 0, "cuda-cores", st, KvFormat::FP8E4M3, false);
    }
    for (int hp : {0, 1}) {
      bench_prefill(4, 2048, ceiling_tflops, hp, st);
      bench_prefill(1, 8192, ceiling_tflops, hp, st);
    }
    for (int hp : {0, 1}) bench_prefill(4, 2048, ceiling_tflops, hp, st, KvFormat::FP8E4M3);
    CK(cudaStreamDestroy(st));
    return 0;
  }

  bool ok = check_validation();
  const std::vector<Case> cases = small ? small_cases() : all_cases();
  int failed = 0;
  for (const Case& c : cases)
    if (!run_case(c, st)) ++failed;
  CK(cudaStreamDestroy(st));
  std::printf("%s: %d case(s) failed\n", (ok && failed == 0) ? "ALL PASS" : "FAILURES", failed);
  return (ok && failed == 0) ? 0 : 1;
}
