// Standalone test and benchmark of the sampling kernel (NOTES.md: build and run).
//   ./sampling_test                 correctness against reference(), one line per case; exit 1 on failure
//   ./sampling_test --small         a few tiny cases (for compute-sanitizer)
//   ./sampling_test --bench [--ceiling-gbs 3000]
//   ./sampling_test --host          the host-only checks (Philox known answers, draw bits): no GPU needed
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/hash.cuh"
#include "sampling.cuh"

using namespace ignis::sampling;
using ignis::fmix32;

#define CHECK_CUDA(call)                                                                               \
  do {                                                                                                 \
    const cudaError_t err_ = (call);                                                                   \
    if (err_ != cudaSuccess) {                                                                         \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::exit(2);                                                                                    \
    }                                                                                                  \
  } while (0)

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Knobs {
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
};

/** Greedy first, then every combination of the sampled knobs. */
std::vector<Knobs> all_knobs() {
  std::vector<Knobs> out{{0.f, 0, 1.f, 0.f}};
  for (float t : {0.5f, 1.f, 1.7f})
    for (int32_t k : {0, 1, 5, 50})
      for (float p : {1.f, 0.9f, 0.3f})
        for (float m : {0.f, 0.05f}) out.push_back({t, k, p, m});
  return out;
}

struct Batch {
  int rows = 0, vocab = 0;
  std::vector<float> logits;
  std::vector<float> temperature, top_p, min_p;
  std::vector<int32_t> top_k, step;
  std::vector<uint32_t> seed;

  Batch(int r, int v) : rows(r), vocab(v), logits(static_cast<size_t>(r) * v), temperature(r), top_p(r), min_p(r), top_k(r), step(r), seed(r) {}
  float* row(int r) { return logits.data() + static_cast<size_t>(r) * vocab; }
  const float* row(int r) const { return logits.data() + static_cast<size_t>(r) * vocab; }
  void set(int r, const Knobs& k) {
    temperature[r] = k.temperature;
    top_k[r] = k.top_k;
    top_p[r] = k.top_p;
    min_p[r] = k.min_p;
  }
};

/** Fills row r with one of the test shapes (never zeros). */
void fill_row(Batch& b, int r, int shape, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.f, 3.f);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  float* x = b.row(r);
  const int v = b.vocab;
  switch (shape) {
    case 4:  // few distinct values: many exact ties
      for (int i = 0; i < v; ++i) x[i] = std::round(normal(rng) * (2.f / 3.f));
      break;
    case 5:  // masked tokens
      for (int i = 0; i < v; ++i) x[i] = unit(rng) < 0.3f ? -kInf : normal(rng);
      break;
    case 6: {  // everything but one token masked
      for (int i = 0; i < v; ++i) x[i] = -kInf;
      x[std::uniform_int_distribution<int>(0, v - 1)(rng)] = normal(rng);
      break;
    }
    case 7:  // far from zero, ties with -inf
      for (int i = 0; i < v; ++i) x[i] = unit(rng) < 0.05f ? -kInf : 20.f + normal(rng);
      break;
    default:
      for (int i = 0; i < v; ++i) x[i] = normal(rng);
  }
  bool finite = false;
  for (int i = 0; i < v; ++i) finite = finite || std::isfinite(x[i]);
  if (!finite) x[std::uniform_int_distribution<int>(0, v - 1)(rng)] = normal(rng);  // all-masked rows: below
}

struct Device {
  float* logits = nullptr;  // allocated with one spare float so that rows can start misaligned
  float *temperature = nullptr, *top_p = nullptr, *min_p = nullptr, *logprob = nullptr;
  int32_t *top_k = nullptr, *step = nullptr, *token = nullptr;
  uint32_t* seed = nullptr;

  Device(const Batch& b, int skew) {
    const size_t n = b.logits.size();
    CHECK_CUDA(cudaMalloc(&logits, (n + 4) * sizeof(float)));
    CHECK_CUDA(cudaMemcpy(logits + skew, b.logits.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    base = logits + skew;
    copy(&temperature, b.temperature);
    copy(&top_p, b.top_p);
    copy(&min_p, b.min_p);
    copy(&top_k, b.top_k);
    copy(&step, b.step);
    copy(&seed, b.seed);
    CHECK_CUDA(cudaMalloc(&token, b.rows * sizeof(int32_t)));
    CHECK_CUDA(cudaMalloc(&logprob, b.rows * sizeof(float)));
  }
  ~Device() {
    for (void* p : {static_cast<void*>(logits), static_cast<void*>(temperature), static_cast<void*>(top_p),
                    static_cast<void*>(min_p), static_cast<void*>(logprob), static_cast<void*>(top_k),
                    static_cast<void*>(step), static_cast<void*>(token), static_cast<void*>(seed)}) {
      cudaFree(p);
    }
  }
  template <typename T> void copy(T** dst, const std::vector<T>& src) {
    CHECK_CUDA(cudaMalloc(dst, src.size() * sizeof(T)));
    CHECK_CUDA(cudaMemcpy(*dst, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  Params params(const Batch& b) const {
    return Params{base, b.rows, b.vocab, temperature, top_k, top_p, min_p, seed, step, token, logprob};
  }
  float* base = nullptr;
};

/** Runs the kernel on a batch (outputs poisoned first); false if an output was left unwritten. */
bool run_device(const Batch& b, int skew, std::vector<int32_t>& token, std::vector<float>& logprob) {
  Device d(b, skew);
  CHECK_CUDA(cudaMemset(d.token, 0xFF, b.rows * sizeof(int32_t)));    // -1
  CHECK_CUDA(cudaMemset(d.logprob, 0xFF, b.rows * sizeof(float)));    // NaN
  void* workspace = nullptr;
  const size_t ws = workspace_bytes(b.rows, b.vocab);
  if (ws > 0) CHECK_CUDA(cudaMalloc(&workspace, ws));
  CHECK_CUDA(launch(d.params(b), workspace, nullptr));
  CHECK_CUDA(cudaGetLastError());
  CHECK_CUDA(cudaDeviceSynchronize());
  token.resize(b.rows);
  logprob.resize(b.rows);
  CHECK_CUDA(cudaMemcpy(token.data(), d.token, b.rows * sizeof(int32_t), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(logprob.data(), d.logprob, b.rows * sizeof(float), cudaMemcpyDeviceToHost));
  if (workspace) CHECK_CUDA(cudaFree(workspace));
  bool written = true;
  for (int r = 0; r < b.rows; ++r) written = written && token[r] >= 0 && token[r] < b.vocab && !std::isnan(logprob[r]);
  return written;
}

double row_lse(const float* x, int v) {
  float m = -kInf;
  for (int i = 0; i < v; ++i) m = std::max(m, x[i]);
  double s = 0.0;
  for (int i = 0; i < v; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
}

/**
 * How far the reference draw lies from the device token, in probability: 0 when the device token
 * is the one the draw hits, else the distance from u to that token's interval of the reference's
 * kept mass (1 when the reference did not keep it at all).
 */
double draw_distance(const Batch& b, int r, int token) {
  const float* x = b.row(r);
  const float t = std::min(b.temperature[r], FLT_MAX);
  const int v = b.vocab;
  float xmax = -kInf;
  for (int i = 0; i < v; ++i) xmax = std::max(xmax, x[i]);
  std::vector<float> z(v);
  for (int i = 0; i < v; ++i) z[i] = (x[i] - xmax) / t;
  std::vector<int> idx;
  for (int i = 0; i < v; ++i) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](int a, int c) { return z[a] > z[c] || (z[a] == z[c] && a < c); });
  double tau = -INFINITY;
  if (b.top_k[r] > 0 && b.top_k[r] < v) tau = z[idx[b.top_k[r] - 1]];
  auto p = [&](int i) { return std::exp(static_cast<double>(z[i])); };
  if (b.top_p[r] < 1.f) {
    double mass = 0.0;
    for (int i = 0; i < v && z[idx[i]] >= tau; ++i) mass += p(idx[i]);
    double run = 0.0;
    for (int i = 0; i < v; ++i) {
      run += p(idx[i]);
      if (run >= static_cast<double>(b.top_p[r]) * mass) {
        tau = std::max(tau, static_cast<double>(z[idx[i]]));
        break;
      }
    }
  }
  if (b.min_p[r] > 0.f) tau = std::max(tau, std::log(static_cast<double>(b.min_p[r])));
  if (!(z[token] >= tau)) return 1.0;
  double kept = 0.0, before = 0.0;
  for (int i = 0; i < v; ++i) {
    if (z[i] >= tau) {
      if (i < token) before += p(i);
      kept += p(i);
    }
  }
  const double lo = before / kept, hi = (before + p(token)) / kept;
  const double u = uniform(b.seed[r], b.step[r]);
  return u < lo ? lo - u : (u >= hi ? u - hi : 0.0);
}

struct Tally {
  long sampled = 0, sampled_match = 0, greedy = 0, greedy_match = 0;
  double worst_logprob = 0.0, worst_distance = 0.0;
  std::string worst_case;
  bool unwritten = false;

  void merge(const Tally& o) {
    sampled += o.sampled;
    sampled_match += o.sampled_match;
    greedy += o.greedy;
    greedy_match += o.greedy_match;
    worst_logprob = std::max(worst_logprob, o.worst_logprob);
    if (o.worst_distance > worst_distance || (worst_case.empty() && !o.worst_case.empty())) {
      worst_distance = std::max(worst_distance, o.worst_distance);
      worst_case = o.worst_case;
    }
    unwritten = unwritten || o.unwritten;
  }
};

/** Runs one batch on the device and on the reference and compares them. */
Tally compare(const Batch& b, int skew) {
  std::vector<int32_t> token, ref_token(b.rows);
  std::vector<float> logprob, ref_logprob(b.rows);
  Tally t;
  t.unwritten = !run_device(b, skew, token, logprob);
  reference(b.logits.data(), b.rows, b.vocab, b.temperature.data(), b.top_k.data(), b.top_p.data(), b.min_p.data(),
            b.seed.data(), b.step.data(), ref_token.data(), ref_logprob.data());
  for (int r = 0; r < b.rows; ++r) {
    const float* x = b.row(r);
    const bool same = token[r] == ref_token[r];
    if (!(b.temperature[r] >= FLT_MIN)) {
      ++t.greedy;
      t.greedy_match += same;
    } else {
      ++t.sampled;
      t.sampled_match += same;
    }
    if (token[r] >= 0 && token[r] < b.vocab) {
      const double want = static_cast<double>(x[token[r]]) - row_lse(x, b.vocab);
      const double err = std::fabs(static_cast<double>(logprob[r]) - want);
      t.worst_logprob = std::max(t.worst_logprob, std::isnan(err) ? INFINITY : err);
    }
    if (!same) {
      const double dist = !(b.temperature[r] >= FLT_MIN) ? 1.0 : draw_distance(b, r, token[r]);
      if (t.worst_case.empty() || dist > t.worst_distance) {
        t.worst_distance = std::max(t.worst_distance, dist);
        char buf[256];
        std::snprintf(buf, sizeof buf, "V=%d row %d T=%g k=%d p=%g min_p=%g: device %d, reference %d, draw off by %.3g",
                      b.vocab, r, b.temperature[r], b.top_k[r], b.top_p[r], b.min_p[r], token[r], ref_token[r], dist);
        t.worst_case = buf;
      }
    }
  }
  return t;
}

/** Random batch: shapes cycle over rows, knobs cycle over all combinations (salted per repetition). */
Batch random_batch(int rows, int vocab, int rep, std::mt19937_64& rng) {
  static const std::vector<Knobs> knobs = all_knobs();
  Batch b(rows, vocab);
  for (int r = 0; r < rows; ++r) {
    fill_row(b, r, (r + rep) % 8, rng);
    b.set(r, knobs[(r * 5 + rep * 11) % knobs.size()]);
    b.seed[r] = static_cast<uint32_t>(rng());
    b.step[r] = static_cast<int32_t>(rng() & 0x7FFFFFFF);
  }
  return b;
}

/**
 * Largest distance of the draw from the device token's bucket that rounding explains: the kept
 * mass is a sum of up to ~150k f32 terms whose order differs between device and reference, so
 * a draw within ~1e-5 of a boundary may land on either side. A mismatch farther out is a bug.
 */
constexpr double kBoundaryNoise = 1e-5;

bool report(const char* name, const Tally& t) {
  const double rate = t.sampled ? 1.0 - static_cast<double>(t.sampled_match) / t.sampled : 0.0;
  const bool ok = !t.unwritten && t.greedy_match == t.greedy && t.worst_distance <= kBoundaryNoise && t.worst_logprob <= 1e-4;
  std::printf("%-34s %s  greedy %ld/%ld  sampled %ld/%ld (mismatch %.4f%%)  logprob err %.2e%s\n", name,
              ok ? "PASS" : "FAIL", t.greedy_match, t.greedy, t.sampled_match, t.sampled, 100.0 * rate, t.worst_logprob,
              t.unwritten ? "  UNWRITTEN OUTPUTS" : "");
  if (!t.worst_case.empty()) std::printf("    worst mismatch: %s\n", t.worst_case.c_str());
  return ok;
}

/** 100k draws of one row [0, ln 2, ln 3] at temperature 1, steps 0..99999. */
bool statistical(int32_t top_k, const double (&want)[3]) {
  const int rows = 100000;
  Batch b(rows, 3);
  for (int r = 0; r < rows; ++r) {
    float* x = b.row(r);
    x[0] = 0.f;
    x[1] = std::log(2.f);
    x[2] = std::log(3.f);
    b.set(r, {1.f, top_k, 1.f, 0.f});
    b.seed[r] = 0x2545F491u;
    b.step[r] = r;
  }
  std::vector<int32_t> token;
  std::vector<float> logprob;
  const bool written = run_device(b, 0, token, logprob);
  double freq[3] = {0, 0, 0};
  for (int r = 0; r < rows; ++r) {
    if (token[r] >= 0 && token[r] < 3) freq[token[r]] += 1.0 / rows;
  }
  bool ok = written;
  for (int i = 0; i < 3; ++i) ok = ok && std::fabs(freq[i] - want[i]) <= 0.01;
  std::printf("%-34s %s  frequencies %.4f %.4f %.4f (want %.4f %.4f %.4f)\n",
              top_k ? "draws [0, ln2, ln3] top_k 2" : "draws [0, ln2, ln3]", ok ? "PASS" : "FAIL", freq[0], freq[1],
              freq[2], want[0], want[1], want[2]);
  return ok;
}

/** Rows with every logit -inf: greedy takes index 0, sampling the last index (as the reference); logprob NaN. */
bool all_masked() {
  const int vocab = 37;
  Batch b(2, vocab);
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < vocab; ++i) b.row(r)[i] = -kInf;
    b.set(r, r == 0 ? Knobs{0.f, 0, 1.f, 0.f} : Knobs{1.f, 5, 0.9f, 0.05f});
  }
  std::vector<int32_t> token;
  std::vector<float> logprob;
  run_device(b, 0, token, logprob);  // "unwritten" by its NaN test, by design here
  std::vector<int32_t> ref_token(2);
  std::vector<float> ref_logprob(2);
  reference(b.logits.data(), 2, vocab, b.temperature.data(), b.top_k.data(), b.top_p.data(), b.min_p.data(), b.seed.data(),
            b.step.data(), ref_token.data(), ref_logprob.data());
  const bool ok = token[0] == 0 && token[1] == vocab - 1 && ref_token[0] == 0 && ref_token[1] == vocab - 1 &&
                  std::isnan(logprob[0]) && std::isnan(logprob[1]);
  std::printf("%-34s %s  tokens %d %d (want 0 %d), logprobs %g %g (want NaN)\n", "all logits -inf", ok ? "PASS" : "FAIL",
              token[0], token[1], vocab - 1, logprob[0], logprob[1]);
  return ok;
}

/**
 * Temperatures and logits at the ends of f32 (what a tiny repetition penalty saturates logits to):
 * every output written, none NaN, and the same tokens as the reference up to rounding.
 */
bool extremes(std::mt19937_64& rng) {
  const float temperatures[] = {1e-40f, FLT_MIN, 1e-30f, 1e-3f, 1e30f, FLT_MAX};
  const Knobs filters[] = {{0.f, 0, 1.f, 0.f}, {0.f, 2, 1.f, 0.f}, {0.f, 0, 0.5f, 0.f}, {0.f, 0, 1.f, 0.5f}, {0.f, 3, 0.9f, 1e-30f}};
  const int vocab = 1000;
  const int rows = static_cast<int>(std::size(temperatures) * std::size(filters)) * 2;
  Batch b(rows, vocab);
  std::normal_distribution<float> normal(0.f, 3.f);
  for (int r = 0; r < rows; ++r) {
    float* x = b.row(r);
    for (int i = 0; i < vocab; ++i) x[i] = normal(rng);
    if (r % 2 == 1) {  // saturated logits: ties at FLT_MAX, and -FLT_MAX (their z overflows to -inf)
      for (int i = 0; i < vocab; i += 7) x[i] = FLT_MAX;
      for (int i = 3; i < vocab; i += 11) x[i] = -FLT_MAX;
    }
    Knobs k = filters[(r / 2) % std::size(filters)];
    k.temperature = temperatures[(r / 2) / std::size(filters)];
    b.set(r, k);
    b.seed[r] = static_cast<uint32_t>(rng());
    b.step[r] = r;
  }
  return report("extreme temperatures and logits", compare(b, 0));
}

/** Writes uniform_bits(seed[i], step[i]) as the device computes it. */
__global__ void device_draw_bits(const uint32_t* seed, const int32_t* step, uint32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = uniform_bits(seed[i], step[i]);
}

// The draws pinned in packages/tensor/src/random.test.ts ("gives the pinned bits that the CUDA
// uniform_bits must match"): the TypeScript reference computes the same 24 bits.
constexpr uint32_t kDrawSeed[] = {0u, 1u, 0u, 42u, 0xFFFFFFFFu, 0x2545F491u};
constexpr int32_t kDrawStep[] = {0, 0, 1, 7, 0x7FFFFFFF, 12345};
constexpr uint32_t kDrawBits[] = {0x6627E8u, 0xE3E806u, 0xF8E4CCu, 0x5BBD83u, 0x7F7989u, 0x5BFC82u};

/** Philox4x32-10 against Random123's known answers, and the pinned draws, computed on the host. */
bool check_draws_host() {
  struct Kat {
    uint4 ctr;
    uint32_t k0, k1;
    uint4 want;
  };
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines.
  const Kat kats[] = {
      {make_uint4(0u, 0u, 0u, 0u), 0u, 0u, make_uint4(0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)},
      {make_uint4(~0u, ~0u, ~0u, ~0u), ~0u, ~0u, make_uint4(0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)},
      {make_uint4(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u), 0xa4093822u, 0x299f31d0u,
       make_uint4(0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)},
  };
  bool ok = true;
  for (const Kat& k : kats) {
    const uint4 got = ignis::philox4x32_10(k.ctr, k.k0, k.k1);
    ok = ok && got.x == k.want.x && got.y == k.want.y && got.z == k.want.z && got.w == k.want.w;
  }
  for (size_t i = 0; i < std::size(kDrawBits); ++i) ok = ok && uniform_bits(kDrawSeed[i], kDrawStep[i]) == kDrawBits[i];
  std::printf("%-34s %s\n", "Philox known answers, draws (host)", ok ? "PASS" : "FAIL");
  return ok;
}

/** The pinned draws computed on the device. */
bool check_draws_device() {
  const int n = static_cast<int>(std::size(kDrawBits));
  uint32_t *seed = nullptr, *out = nullptr;
  int32_t* step = nullptr;
  CHECK_CUDA(cudaMalloc(&seed, n * sizeof(uint32_t)));
  CHECK_CUDA(cudaMalloc(&step, n * sizeof(int32_t)));
  CHECK_CUDA(cudaMalloc(&out, n * sizeof(uint32_t)));
  CHECK_CUDA(cudaMemcpy(seed, kDrawSeed, n * sizeof(uint32_t), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(step, kDrawStep, n * sizeof(int32_t), cudaMemcpyHostToDevice));
  device_draw_bits<<<1, 32>>>(seed, step, out, n);
  CHECK_CUDA(cudaGetLastError());
  uint32_t got[std::size(kDrawBits)];
  CHECK_CUDA(cudaMemcpy(got, out, n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  for (void* p : {static_cast<void*>(seed), static_cast<void*>(step), static_cast<void*>(out)}) cudaFree(p);
  bool ok = true;
  for (int i = 0; i < n; ++i) ok = ok && got[i] == kDrawBits[i];
  std::printf("%-34s %s\n", "draws (device)", ok ? "PASS" : "FAIL");
  return ok;
}

bool check_invalid() {
  Params p{};
  p.rows = 1;
  p.vocab = 8;
  const bool ok = launch(p, nullptr, nullptr) == cudaErrorInvalidValue;  // null pointers are refused
  cudaGetLastError();
  std::printf("%-34s %s\n", "invalid parameters refused", ok ? "PASS" : "FAIL");
  return ok;
}

int correctness(bool small) {
  std::mt19937_64 rng(0x5EED5A3Bull);
  bool ok = check_draws_host();
  ok = check_draws_device() && ok;
  ok = check_invalid() && ok;
  ok = all_masked() && ok;
  ok = extremes(rng) && ok;
  struct Case {
    int vocab, rows, reps, skew;
  };
  std::vector<Case> cases;
  if (small) {
    for (int v : {1, 2, 3, 5, 7, 33, 129, 1000, 4097, 6000}) cases.push_back({v, 3, 2, v == 1000 ? 1 : 0});
  } else {
    for (int v : {7, 1000, 32000, 128256, 152064}) {
      const int big = v <= 32000 ? 8 : 3;  // repetitions of the 256-row batch
      cases.push_back({v, 1, 16, 0});
      cases.push_back({v, 3, 16, 0});
      cases.push_back({v, 256, big, 0});
    }
    cases.push_back({1000, 64, 4, 1});  // every row misaligned
    cases.push_back({4097, 64, 4, 3});
  }
  Tally all;
  for (const Case& c : cases) {
    Tally t;
    for (int rep = 0; rep < c.reps; ++rep) t.merge(compare(random_batch(c.rows, c.vocab, rep, rng), c.skew));
    char name[96];
    std::snprintf(name, sizeof name, "V=%d rows=%d x%d%s", c.vocab, c.rows, c.reps, c.skew ? " misaligned" : "");
    ok = report(name, t) && ok;
    all.merge(t);
  }
  ok = report("all cases", all) && ok;
  if (!small) {
    const double plain[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
    const double top2[3] = {0.0, 0.4, 0.6};
    ok = statistical(0, plain) && ok;
    ok = statistical(2, top2) && ok;
  }
  std::printf("%s\n", ok ? "ALL PASS" : "FAILED");
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Benchmark.

__global__ void fill_normal(float* x, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint32_t a = fmix32(seed ^ fmix32(static_cast<uint32_t>(i) * 2u + 1u));
    const uint32_t b = fmix32(a ^ 0x68E31DA4u ^ static_cast<uint32_t>(i >> 32));
    const float u1 = (static_cast<float>(a >> 8) + 1.f) * (1.f / 16777216.f);
    const float u2 = static_cast<float>(b >> 8) * (1.f / 16777216.f);
    x[i] = 3.f * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
  }
}

int bench(double ceiling_gbs) {
  const int vocab = 128256;
  const int launches = 20, warmup = 3, reps = 15;
  std::printf("vocab %d, %d launches per CUDA graph, median of %d graphs, ceiling %.0f GB/s\n", vocab, launches, reps, ceiling_gbs);
  std::printf("%-6s %-22s %10s %10s %10s %9s %8s\n", "rows", "mode", "median us", "min us", "max us", "GB/s", "of ceil");
  bool ok = true;
  for (int rows : {1, 64, 256}) {
    const size_t per = static_cast<size_t>(rows) * vocab;
    const size_t bytes = per * sizeof(float);
    const int copies = static_cast<int>(std::max<size_t>(2, (240u << 20) / bytes + 1));  // rotate past L2
    float* pool = nullptr;
    CHECK_CUDA(cudaMalloc(&pool, per * copies * sizeof(float)));
    fill_normal<<<1024, 256>>>(pool, per * copies, 1234u + rows);
    CHECK_CUDA(cudaGetLastError());
    Batch knobs(rows, 1);
    for (const bool greedy : {true, false}) {
      for (int r = 0; r < rows; ++r) {
        knobs.set(r, greedy ? Knobs{0.f, 0, 1.f, 0.f} : Knobs{1.f, 50, 0.9f, 0.f});
        knobs.seed[r] = 977u * r + 1u;
        knobs.step[r] = r;
      }
      Device d(knobs, 0);
      CHECK_CUDA(cudaMemset(d.token, 0xFF, rows * sizeof(int32_t)));
      CHECK_CUDA(cudaMemset(d.logprob, 0xFF, rows * sizeof(float)));
      cudaStream_t stream;
      CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      cudaGraph_t graph;
      cudaGraphExec_t exec;
      CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
      for (int i = 0; i < launches; ++i) {
        Params p = d.params(knobs);
        p.vocab = vocab;
        p.logits = pool + per * (i % copies);
        CHECK_CUDA(launch(p, nullptr, stream));
      }
      CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
      CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
      for (int i = 0; i < warmup; ++i) CHECK_CUDA(cudaGraphLaunch(exec, stream));
      std::vector<float> ms(reps);
      cudaEvent_t start, stop;
      CHECK_CUDA(cudaEventCreate(&start));
      CHECK_CUDA(cudaEventCreate(&stop));
      for (int i = 0; i < reps; ++i) {
        CHECK_CUDA(cudaEventRecord(start, stream));
        CHECK_CUDA(cudaGraphLaunch(exec, stream));
        CHECK_CUDA(cudaEventRecord(stop, stream));
        CHECK_CUDA(cudaEventSynchronize(stop));
        CHECK_CUDA(cudaEventElapsedTime(&ms[i], start, stop));
      }
      CHECK_CUDA(cudaGetLastError());
      std::vector<int32_t> token(rows);
      std::vector<float> logprob(rows);
      CHECK_CUDA(cudaMemcpy(token.data(), d.token, rows * sizeof(int32_t), cudaMemcpyDeviceToHost));
      CHECK_CUDA(cudaMemcpy(logprob.data(), d.logprob, rows * sizeof(float), cudaMemcpyDeviceToHost));
      for (int r = 0; r < rows; ++r) ok = ok && token[r] >= 0 && token[r] < vocab && std::isfinite(logprob[r]);
      std::sort(ms.begin(), ms.end());
      const double us = 1e3 * ms[reps / 2] / launches;
      const double gbs = static_cast<double>(bytes) / (us * 1e-6) / 1e9;
      std::printf("%-6d %-22s %10.2f %10.2f %10.2f %9.0f %7.1f%%\n", rows, greedy ? "greedy" : "top_k 50 + top_p 0.9", us,
                  1e3 * ms.front() / launches, 1e3 * ms.back() / launches, gbs, 100.0 * gbs / ceiling_gbs);
      CHECK_CUDA(cudaEventDestroy(start));
      CHECK_CUDA(cudaEventDestroy(stop));
      CHECK_CUDA(cudaGraphExecDestroy(exec));
      CHECK_CUDA(cudaGraphDestroy(graph));
      CHECK_CUDA(cudaStreamDestroy(stream));
    }
    CHECK_CUDA(cudaFree(pool));
  }
  if (!ok) std::printf("FAILED: an output was not written\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool small = false, run_bench = false, host_only = false;
  double ceiling = 3000.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--small") {
      small = true;
    } else if (a == "--host") {
      host_only = true;
    } else if (a == "--bench") {
      run_bench = true;
    } else if (a == "--ceiling-gbs" && i + 1 < argc) {
      ceiling = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--small | --host | --bench [--ceiling-gbs N]]\n", argv[0]);
      return 2;
    }
  }
  if (host_only) return check_draws_host() ? 0 : 1;
  int device = 0;
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDevice(&device));
  CHECK_CUDA(cudaGetDeviceProperties(&prop, device));
  std::printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  return run_bench ? bench(ceiling) : correctness(small);
}
