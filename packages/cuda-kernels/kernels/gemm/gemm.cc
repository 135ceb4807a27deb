#include "gemm/gemm.h"

#include "gemm/fp8_gemv.cuh"
#include "quantize/quantize.cuh"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ignis::gemm {
namespace {

void check(cublaslt::Status status, const char* what) {
  if (status != cublaslt::kSuccess) throw std::runtime_error(std::string("cuBLASLt ") + what + " failed with status " + std::to_string(status));
}

cudaDataType_t cuda_type(DType d) {
  switch (d) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    case DType::FP8E4M3: return CUDA_R_8F_E4M3;
    default: throw std::runtime_error(std::string("GEMM does not take dtype ") + dtype_name(d));
  }
}

}  // namespace

Gemm::Gemm() {
  const char* tune = std::getenv("IGNIS_GEMM_AUTOTUNE");
  autotune_ = !(tune != nullptr && std::string(tune) == "0");
  const char* outer = std::getenv("IGNIS_FP8_OUTER_VEC");
  fp8_outer_vector_ = outer != nullptr && std::string(outer) == "1";
  const char* error = nullptr;
  api_ = cublaslt::api(&error);
  if (!api_) throw std::runtime_error(error);
  check(api_->Create(&handle_), "create");
  if (cudaMalloc(&workspace_, kWorkspaceBytes) != cudaSuccess) {
    api_->Destroy(handle_);
    throw std::runtime_error("out of GPU memory for the 32 MiB cuBLASLt workspace");
  }
}

Gemm::~Gemm() {
  for (auto& [key, plan] : plans_) destroy(plan);
  cudaFree(workspace_);
  api_->Destroy(handle_);
}

void Gemm::destroy(Plan& plan) {
  api_->MatrixLayoutDestroy(plan.a);
  api_->MatrixLayoutDestroy(plan.b);
  api_->MatrixLayoutDestroy(plan.d);
  api_->MatmulDescDestroy(plan.desc);
  plan = Plan{};
}

// Row-major y[T,N] = x[T,K] w[N,K]^T is column-major y^T[N,T] = op(A) B with A = w stored K x N
// (transposed: op(A) is N x K) and B = x stored K x T: m = N, n = T, k = K. This is the "TN"
// layout FP8 GEMMs require, and the weight's per-row scales are op(A)'s rows (M of them), the
// input's per-row scales op(B)'s columns (N of them): cuBLASLt's outer-vector scaling.
bool Gemm::make_plan(Plan& plan, DType in, DType out, bool bias, bool outer_vector_scales, int64_t T, int64_t N, int64_t K,
                     cublaslt::HeuristicResult* results, int wanted, int* count) {
  check(api_->MatmulDescCreate(&plan.desc, cublaslt::kCompute32F, CUDA_R_32F), "descriptor");
  const int32_t transA = cublaslt::kOpT;
  const int32_t transB = cublaslt::kOpN;
  check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescTransA, &transA, sizeof(transA)), "set transA");
  check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescTransB, &transB, sizeof(transB)), "set transB");
  const uint32_t epilogue = bias ? cublaslt::kEpilogueBias : cublaslt::kEpilogueDefault;
  check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescEpilogue, &epilogue, sizeof(epilogue)), "set epilogue");
  if (bias) {
    const cudaDataType_t biasType = cuda_type(out);
    check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescBiasDataType, &biasType, sizeof(biasType)), "set bias type");
  }
  bool ok = true;
  if (outer_vector_scales) {
    const int32_t mode = cublaslt::kScaleOuterVec32F;
    ok = api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescAScaleMode, &mode, sizeof(mode)) == cublaslt::kSuccess &&
         api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescBScaleMode, &mode, sizeof(mode)) == cublaslt::kSuccess;
  }
  check(api_->MatrixLayoutCreate(&plan.a, cuda_type(in), K, N, K), "layout A");
  check(api_->MatrixLayoutCreate(&plan.b, cuda_type(in), K, T, K), "layout B");
  check(api_->MatrixLayoutCreate(&plan.d, cuda_type(out), N, T, N), "layout D");
  cublaslt::Preference preference = nullptr;
  check(api_->MatmulPreferenceCreate(&preference), "preference");
  const uint64_t workspace = kWorkspaceBytes;
  check(api_->MatmulPreferenceSetAttribute(preference, cublaslt::kPrefMaxWorkspaceBytes, &workspace, sizeof(workspace)), "set workspace");
  *count = 0;
  if (ok) {
    const cublaslt::Status status =
        api_->MatmulAlgoGetHeuristic(handle_, plan.desc, plan.a, plan.b, plan.d, plan.d, preference, wanted, results, count);
    ok = status == cublaslt::kSuccess && *count > 0;
  }
  api_->MatmulPreferenceDestroy(preference);
  if (!ok) destroy(plan);
  return ok;
}

void Gemm::set_scales(Plan& plan, const float* a_scale, const float* b_scale) {
  check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescAScalePointer, &a_scale, sizeof(a_scale)), "set A scale");
  check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescBScalePointer, &b_scale, sizeof(b_scale)), "set B scale");
}

Gemm::Plan& Gemm::plan_for(DType in, DType out, const void* x, const void* w, const void* bias_ptr, void* y, int64_t T, int64_t N, int64_t K,
                           cudaStream_t stream, const float* a_scale, const float* b_scale) {
  const bool bias = bias_ptr != nullptr;
  const Key key{static_cast<int>(in), static_cast<int>(out), bias, T, N, K};
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second;
  // Measure only in the GEMV regime (few rows): there the heuristic's first pick is weakest and
  // the same shapes recur every decode step; large-T shapes (many distinct prefill chunk sizes)
  // take the heuristic's pick, which is near the FLOP ceiling already.
  const bool measure = autotune_ && T <= kMeasuredRows;
  cublaslt::HeuristicResult results[kCandidates]{};
  int count = 0;
  Plan plan;
  // FP8 operands: cuBLASLt scales by the per-row vectors when it has an algorithm for that (the
  // scale pointers are set before each call); otherwise the product runs unscaled and
  // matmul_fp8 rescales it, and the bias moves to that kernel too.
  const bool fp8 = in == DType::FP8E4M3;
  plan.scaled = fp8 && fp8_outer_vector_ && make_plan(plan, in, out, bias, true, T, N, K, results, measure ? kCandidates : 1, &count);
  if (!plan.scaled && !make_plan(plan, in, out, bias && !fp8, false, T, N, K, results, measure ? kCandidates : 1, &count)) {
    throw std::runtime_error("cuBLASLt has no algorithm for " + std::string(dtype_name(in)) + " -> " + dtype_name(out) + " T=" +
                             std::to_string(T) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
  }
  if (bias && (!fp8 || plan.scaled)) check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescBiasPointer, &bias_ptr, sizeof(bias_ptr)), "set bias");
  if (plan.scaled) set_scales(plan, a_scale, b_scale);  // before the candidates run on these operands
  plan.algo = count > 1 ? fastest(plan, results, count, x, w, y, stream) : results[0].algo;
  return plans_.emplace(key, plan).first->second;
}

cublaslt::Algo Gemm::fastest(const Plan& plan, const cublaslt::HeuristicResult* candidates, int count, const void* x, const void* w, void* y,
                             cudaStream_t stream) {
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  const float alpha = 1.f;
  const float beta = 0.f;
  cublaslt::Algo best = candidates[0].algo;
  float best_ms = 1e30f;
  for (int i = 0; i < count; ++i) {
    if (candidates[i].state != cublaslt::kSuccess || candidates[i].workspaceSize > kWorkspaceBytes) continue;
    const cublaslt::Algo* algo = &candidates[i].algo;
    auto launch = [&] {
      return api_->Matmul(handle_, plan.desc, &alpha, w, plan.a, x, plan.b, &beta, y, plan.d, y, plan.d, algo, workspace_, kWorkspaceBytes,
                          stream);
    };
    if (launch() != cublaslt::kSuccess) continue;  // warm-up; an algorithm that fails is skipped
    cudaEventRecord(start, stream);
    for (int r = 0; r < 3; ++r) launch();
    cudaEventRecord(stop, stream);
    float ms = 0;
    if (cudaEventSynchronize(stop) == cudaSuccess && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess && ms < best_ms) {
      best_ms = ms;
      best = *algo;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

void Gemm::matmul(DType in, DType out, const void* x, const void* w, const void* bias, void* y, int64_t T, int64_t N, int64_t K,
                  cudaStream_t stream) {
  if (T == 0) return;
  Plan& plan = plan_for(in, out, x, w, bias, y, T, N, K, stream);
  if (bias) check(api_->MatmulDescSetAttribute(plan.desc, cublaslt::kDescBiasPointer, &bias, sizeof(bias)), "set bias");
  const float alpha = 1.f;
  const float beta = 0.f;
  check(api_->Matmul(handle_, plan.desc, &alpha, w, plan.a, x, plan.b, &beta, y, plan.d, y, plan.d, &plan.algo, workspace_,
                     kWorkspaceBytes, stream),
        "matmul");
}

void Gemm::matmul_fp8(const void* x_codes, const float* x_scale, const void* w_codes, const float* w_scale, const void* bias, DType out,
                      void* y, int64_t T, int64_t N, int64_t K, cudaStream_t stream) {
  if (T == 0) return;
  if (T <= kFp8GemvMaxRows && K % 16 == 0) {
    const cudaError_t status = fp8_gemv(static_cast<const uint8_t*>(x_codes), x_scale, static_cast<const uint8_t*>(w_codes), w_scale, bias, out, y, T,
                                        N, K, stream);
    if (status != cudaSuccess) throw std::runtime_error(std::string("fp8 gemv: ") + cudaGetErrorString(status));
    return;
  }
  Plan* plan = &plan_for(DType::FP8E4M3, out, x_codes, w_codes, bias, y, T, N, K, stream, w_scale, x_scale);
  if (plan->scaled) {
    set_scales(*plan, w_scale, x_scale);
    if (bias) check(api_->MatmulDescSetAttribute(plan->desc, cublaslt::kDescBiasPointer, &bias, sizeof(bias)), "set bias");
  }
  const float alpha = 1.f;
  const float beta = 0.f;
  check(api_->Matmul(handle_, plan->desc, &alpha, w_codes, plan->a, x_codes, plan->b, &beta, y, plan->d, y, plan->d, &plan->algo, workspace_,
                     kWorkspaceBytes, stream),
        "fp8 matmul");
  if (!plan->scaled) {
    const cudaError_t status = quantize::scale_rows_cols(out, y, x_scale, w_scale, bias, T, N, stream);
    if (status != cudaSuccess) throw std::runtime_error(std::string("rescaling an fp8 product: ") + cudaGetErrorString(status));
  }
}

}  // namespace ignis::gemm
