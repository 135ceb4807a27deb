// Entry points of the sampling kernel: validation, launch, and the host reference.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "sampling.cuh"
#include "sampling_kernel.cuh"

namespace ignis::sampling {
namespace {

// Weights are integers of 2^-40 with the max at 2^40: a row's total stays below 2^64 for vocab < 2^24.
constexpr int kMaxVocab = 1 << 24;

cudaError_t validate(const Params& p) {
  const cudaError_t bad = cudaErrorInvalidValue;
  if (p.rows < 0 || p.vocab < 1 || p.vocab >= kMaxVocab) return bad;
  if (p.rows == 0) return cudaSuccess;
  if (p.logits == nullptr || p.temperature == nullptr || p.top_k == nullptr || p.top_p == nullptr ||
      p.min_p == nullptr || p.seed == nullptr || p.step == nullptr || p.out_token == nullptr || p.out_logprob == nullptr) {
    return bad;
  }
  if ((reinterpret_cast<uintptr_t>(p.logits) & 3u) != 0) return bad;  // rows are read as floats, quads where aligned
  return cudaSuccess;
}

cudaError_t launch_rows(const Params& p, cudaStream_t stream) {
  detail::sample_rows<<<p.rows, detail::kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

size_t workspace_bytes(int rows, int vocab) {
  (void)rows;
  (void)vocab;
  return 0;
}

cudaError_t launch(const Params& p, void* workspace, cudaStream_t stream) {
  (void)workspace;
  const cudaError_t err = validate(p);
  if (err != cudaSuccess || p.rows == 0) return err;
  return launch_rows(p, stream);
}

// ---------------------------------------------------------------------------------------------
// Host reference: packages/tensor/src/reference/kernels/sample.ts line for line (double where it
// uses JavaScript numbers, f32 where it rounds with Math.fround), except that NaN logits are
// never kept.

namespace {

void reference_row(const float* x, int vocab, float temperature, int32_t top_k, float top_p, float min_p, uint32_t seed,
                   int32_t step, std::vector<int>& order, int32_t* out_token, float* out_logprob) {
  float max = -std::numeric_limits<float>::infinity();
  int argmax = 0;
  for (int i = 0; i < vocab; ++i) {
    if (x[i] > max) {
      max = x[i];
      argmax = i;
    }
  }
  double total = 0.0;
  for (int i = 0; i < vocab; ++i) total += std::exp(static_cast<double>(x[i]) - static_cast<double>(max));
  const double lse = static_cast<double>(max) + std::log(total);
  auto emit = [&](int token) {
    *out_token = token;
    *out_logprob = static_cast<float>(static_cast<double>(x[token]) - lse);
  };
  if (!(temperature >= FLT_MIN)) return emit(argmax);  // 0, subnormal, negative and NaN temperatures
  if (!(std::fabs(max) < std::numeric_limits<float>::infinity())) return emit(vocab - 1);

  const float t = std::min(temperature, FLT_MAX);
  auto z = [&](int i) { return (x[i] - max) / t; };  // f32: <= 0, 0 at the max, overflow -inf
  auto p = [&](int i) { return std::exp(static_cast<double>(z(i))); };
  double tau = -std::numeric_limits<double>::infinity();
  const bool use_k = top_k > 0 && top_k < vocab;
  if (use_k || top_p < 1.f) {
    order.clear();
    for (int i = 0; i < vocab; ++i) {
      if (!std::isnan(x[i])) order.push_back(i);
    }
    auto before = [&](int a, int b) { return z(a) > z(b) || (z(a) == z(b) && a < b); };
    size_t head = order.size();
    if (use_k) {
      if (static_cast<size_t>(top_k) <= order.size()) {
        std::nth_element(order.begin(), order.begin() + (top_k - 1), order.end(), before);
        tau = z(order[top_k - 1]);
        head = static_cast<size_t>(std::partition(order.begin(), order.end(), [&](int i) { return z(i) >= tau; }) - order.begin());
      }
    }
    if (top_p < 1.f) {
      std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(head), before);
      double mass = 0.0;
      for (size_t i = 0; i < head; ++i) mass += p(order[i]);
      double running = 0.0;
      for (size_t i = 0; i < head; ++i) {
        running += p(order[i]);
        if (running >= static_cast<double>(top_p) * mass) {
          tau = std::max(tau, static_cast<double>(z(order[i])));
          break;
        }
      }
    }
  }
  if (min_p > 0.f) tau = std::max(tau, std::log(static_cast<double>(min_p)));

  double kept = 0.0;
  int last = argmax;
  for (int i = 0; i < vocab; ++i) {
    if (static_cast<double>(z(i)) >= tau) {
      kept += p(i);
      last = i;
    }
  }
  const double target = static_cast<double>(uniform(seed, step)) * kept;
  double running = 0.0;
  for (int i = 0; i < vocab; ++i) {
    if (!(static_cast<double>(z(i)) >= tau)) continue;
    running += p(i);
    if (running > target) return emit(i);
  }
  emit(last);
}

}  // namespace

void reference(const float* logits, int rows, int vocab, const float* temperature, const int32_t* top_k,
               const float* top_p, const float* min_p, const uint32_t* seed, const int32_t* step,
               int32_t* out_token, float* out_logprob) {
  std::vector<int> order;
  order.reserve(static_cast<size_t>(vocab));
  for (int r = 0; r < rows; ++r) {
    reference_row(logits + static_cast<size_t>(r) * static_cast<size_t>(vocab), vocab, temperature[r], top_k[r], top_p[r],
                  min_p[r], seed[r], step[r], order, out_token + r, out_logprob + r);
  }
}

}  // namespace ignis::sampling
