#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <cuda_runtime.h>

#include "common/dtype.h"
#include "gemm/cublaslt_api.h"

namespace ignis::gemm {

/**
 * y[T, N] = x[T, K] @ w[N, K]^T (+ bias[N]), row-major, through cuBLASLt: f32 x/w (full f32
 * compute, no TF32) or bf16 x/w with f32 accumulation; y in f32 or x's dtype. The algorithm is
 * chosen once per shape, the first time it runs (never inside a CUDA graph capture: the executor
 * runs every shape eagerly first): for few rows (decode), the fastest of cuBLASLt's heuristic
 * candidates measured on the real operands; else the heuristic's pick. Not thread-safe: one per
 * executor.
 */
class Gemm {
 public:
  /** Throws if cuBLASLt cannot be loaded. */
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  void matmul(DType in, DType out, const void* x, const void* w, const void* bias, void* y, int64_t T, int64_t N, int64_t K,
              cudaStream_t stream);

  /**
   * y[T, N] = (x_codes[T, K] @ w_codes[N, K]^T) * x_scale[t] * w_scale[n] (+ bias[N]): e4m3 operands
   * with one f32 scale per row of each, y in f32 or bf16 (bias in y's dtype). Up to
   * kFp8GemvMaxRows rows: fp8_gemv (CUDA cores, f32 accumulation). More: cuBLASLt with unit scales
   * (its fastest FP8 kernels; the tensor cores accumulate with about 14 bits, as on every Hopper
   * FP8 GEMM), then quantize::scale_rows_cols applies the scales and the bias; with
   * IGNIS_FP8_OUTER_VEC=1, cuBLASLt's outer-vector scaling applies them instead (slower on an H200,
   * 2026-12-04: kernels/quantize/NOTES.md).
   */
  void matmul_fp8(const void* x_codes, const float* x_scale, const void* w_codes, const float* w_scale, const void* bias, DType out, void* y,
                  int64_t T, int64_t N, int64_t K, cudaStream_t stream);



  /** Workspace bytes it holds on the device. */
  size_t workspace_bytes() const { return kWorkspaceBytes; }

 private:
  struct Plan {
    cublaslt::MatmulDesc desc = nullptr;
    cublaslt::MatrixLayout a = nullptr, b = nullptr, d = nullptr;
    cublaslt::Algo algo{};
    /** FP8 plans: cuBLASLt applies the per-row scales (else the caller rescales). */
    bool scaled = false;
  };
  using Key = std::tuple<int, int, bool, int64_t, int64_t, int64_t>;
  /** The cached plan for a shape, made (and its algorithm measured on these operands) on first use. */
  Plan& plan_for(DType in, DType out, const void* x, const void* w, const void* bias, void* y, int64_t T, int64_t N, int64_t K,
                 cudaStream_t stream, const float* a_scale = nullptr, const float* b_scale = nullptr);
  /** Points an FP8 plan's outer-vector scales at A's (the weight's) and B's (the input's). */
  void set_scales(Plan& plan, const float* a_scale, const float* b_scale);
  /** Layouts, descriptor and candidate algorithms of one GEMM; false (nothing held) when cuBLASLt has no algorithm. */
  bool make_plan(Plan& plan, DType in, DType out, bool bias, bool outer_vector_scales, int64_t T, int64_t N, int64_t K,
                 cublaslt::HeuristicResult* results, int wanted, int* count);
  void destroy(Plan& plan);
  /** The fastest of cuBLASLt's candidate algorithms on these operands (each timed a few times with CUDA events). */
  cublaslt::Algo fastest(const Plan& plan, const cublaslt::HeuristicResult* candidates, int count, const void* x, const void* w, void* y,
                         cudaStream_t stream);

  static constexpr size_t kWorkspaceBytes = 32u << 20;
  /** Candidates asked of cuBLASLt's heuristic per shape (IGNIS_GEMM_AUTOTUNE=0: take its first). */
  static constexpr int kCandidates = 8;
  /**
   * Shapes of at most this many rows get their algorithm measured. (Measuring the decode batch
   * buckets up to 1024 rows as well was tried on an H200: no gain at 256 rows, 2026-11-21.)
   */
  static constexpr int64_t kMeasuredRows = 64;
  bool autotune_ = true;
  const cublaslt::Api* api_;
  cublaslt::Handle handle_ = nullptr;
  void* workspace_ = nullptr;
  std::map<Key, Plan> plans_;
  /** IGNIS_FP8_OUTER_VEC=1: FP8 GEMMs scale in cuBLASLt (outer-vector modes) rather than in our epilogue. */
  bool fp8_outer_vector_ = false;
};

}  // namespace ignis::gemm
