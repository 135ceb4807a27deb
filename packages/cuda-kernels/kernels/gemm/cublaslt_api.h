#pragma once
// The few cuBLASLt declarations Ignis uses, written here so that the addon builds without the
// cuBLAS headers and loads libcublasLt with dlopen at run time. Values and layouts are those of
// cublasLt.h / cublas_api.h in CUDA 13.0 (checked by a GPU test against the real headers).
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>
#include <library_types.h>

namespace ignis::cublaslt {

using Status = int;  // cublasStatus_t
constexpr Status kSuccess = 0;
using ComputeType = int;  // cublasComputeType_t
constexpr ComputeType kCompute32F = 68;

using Handle = struct Context*;           // cublasLtHandle_t
using MatmulDesc = struct MatmulDescOpaque*;   // cublasLtMatmulDesc_t
using MatrixLayout = struct LayoutOpaque*;     // cublasLtMatrixLayout_t
using Preference = struct PreferenceOpaque*;   // cublasLtMatmulPreference_t

struct Algo {  // cublasLtMatmulAlgo_t
  uint64_t data[8];
};

struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  Algo algo;
  size_t workspaceSize;
  Status state;
  float wavesCount;
  int reserved[4];
};

// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3;
constexpr int kDescTransB = 4;
constexpr int kDescEpilogue = 7;
constexpr int kDescBiasPointer = 8;
constexpr int kDescBiasDataType = 26;
constexpr int kDescAScalePointer = 17;
constexpr int kDescBScalePointer = 18;
constexpr int kDescAScaleMode = 31;
constexpr int kDescBScaleMode = 32;
// cublasLtMatmulMatrixScale_t: one f32 scale per row of op(A) and per column of op(B).
constexpr int32_t kScaleOuterVec32F = 3;
// cublasOperation_t
constexpr int32_t kOpN = 0;
constexpr int32_t kOpT = 1;
// cublasLtEpilogue_t
constexpr uint32_t kEpilogueDefault = 1;
constexpr uint32_t kEpilogueBias = 4;
// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspaceBytes = 1;

/** Function pointers resolved from libcublasLt. */
struct Api {
  size_t (*GetVersion)();
  Status (*Create)(Handle*);
  Status (*Destroy)(Handle);
  Status (*MatmulDescCreate)(MatmulDesc*, ComputeType, cudaDataType_t);
  Status (*MatmulDescDestroy)(MatmulDesc);
  Status (*MatmulDescSetAttribute)(MatmulDesc, int, const void*, size_t);
  Status (*MatrixLayoutCreate)(MatrixLayout*, cudaDataType_t, uint64_t, uint64_t, int64_t);
  Status (*MatrixLayoutDestroy)(MatrixLayout);
  Status (*MatmulPreferenceCreate)(Preference*);
  Status (*MatmulPreferenceDestroy)(Preference);
  Status (*MatmulPreferenceSetAttribute)(Preference, int, const void*, size_t);
  Status (*MatmulAlgoGetHeuristic)(Handle, MatmulDesc, MatrixLayout, MatrixLayout, MatrixLayout, MatrixLayout, Preference, int,
                                   HeuristicResult*, int*);
  Status (*Matmul)(Handle, MatmulDesc, const void*, const void*, MatrixLayout, const void*, MatrixLayout, const void*, const void*,
                   MatrixLayout, void*, MatrixLayout, const Algo*, void*, size_t, cudaStream_t);
};

/** The loaded API, or null; `error` then says why (library not found, symbol missing). Loads once. */
const Api* api(const char** error);

}  // namespace ignis::cublaslt
