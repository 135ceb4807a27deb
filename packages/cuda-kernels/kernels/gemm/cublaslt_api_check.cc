// Checks our own cuBLASLt declarations (cublaslt_api.h) against the real cublasLt.h. Built and
// run on the GPU machine, where the cuBLAS headers exist (this machine has none):
//   g++ -std=c++17 -I/usr/local/cuda/include -I. -Ikernels -o check kernels/gemm/cublaslt_api_check.cc && ./check
#include <cublasLt.h>

#include <cstddef>
#include <cstdio>

#include "gemm/cublaslt_api.h"

namespace c = ignis::cublaslt;

static_assert(c::kSuccess == CUBLAS_STATUS_SUCCESS, "status");
static_assert(c::kCompute32F == CUBLAS_COMPUTE_32F, "compute type");
static_assert(c::kDescTransA == CUBLASLT_MATMUL_DESC_TRANSA, "transA");
static_assert(c::kDescTransB == CUBLASLT_MATMUL_DESC_TRANSB, "transB");
static_assert(c::kDescEpilogue == CUBLASLT_MATMUL_DESC_EPILOGUE, "epilogue");
static_assert(c::kDescBiasPointer == CUBLASLT_MATMUL_DESC_BIAS_POINTER, "bias pointer");
static_assert(c::kDescBiasDataType == CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, "bias type");
static_assert(c::kDescAScalePointer == CUBLASLT_MATMUL_DESC_A_SCALE_POINTER && c::kDescBScalePointer == CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, "scale pointers");
static_assert(c::kDescAScaleMode == CUBLASLT_MATMUL_DESC_A_SCALE_MODE && c::kDescBScaleMode == CUBLASLT_MATMUL_DESC_B_SCALE_MODE, "scale modes");
static_assert(c::kScaleOuterVec32F == CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, "outer-vector scaling");
static_assert(c::kOpN == CUBLAS_OP_N && c::kOpT == CUBLAS_OP_T, "operations");
static_assert(c::kEpilogueDefault == CUBLASLT_EPILOGUE_DEFAULT && c::kEpilogueBias == CUBLASLT_EPILOGUE_BIAS, "epilogues");
static_assert(c::kPrefMaxWorkspaceBytes == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, "workspace preference");
static_assert(sizeof(c::Algo) == sizeof(cublasLtMatmulAlgo_t), "algo size");
static_assert(sizeof(c::HeuristicResult) == sizeof(cublasLtMatmulHeuristicResult_t), "heuristic result size");
static_assert(offsetof(c::HeuristicResult, workspaceSize) == offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize), "workspace offset");
static_assert(offsetof(c::HeuristicResult, state) == offsetof(cublasLtMatmulHeuristicResult_t, state), "state offset");
static_assert(offsetof(c::HeuristicResult, wavesCount) == offsetof(cublasLtMatmulHeuristicResult_t, wavesCount), "waves offset");
static_assert(sizeof(c::Status) == sizeof(cublasStatus_t) && sizeof(c::ComputeType) == sizeof(cublasComputeType_t), "enum sizes");

// The function pointer types must accept the real functions.
static c::Api api{&cublasLtGetVersion,
                  reinterpret_cast<c::Status (*)(c::Handle*)>(&cublasLtCreate),
                  reinterpret_cast<c::Status (*)(c::Handle)>(&cublasLtDestroy),
                  nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

int main() {
  std::printf("cublaslt_api.h matches cublasLt.h (cuBLASLt %zu)\n", cublasLtGetVersion());
  return api.GetVersion == nullptr;
}
