#pragma once
// Element types shared by the executor and the kernels. The numbering matches the TypeScript
// side (packages/cuda-kernels/src/native.ts, NATIVE_DTYPES).
#include <cstddef>
#include <cstdint>

namespace ignis {

enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2, I8 = 3, I32 = 4, FP8E4M3 = 5, FP8E5M2 = 6 };

inline size_t dtype_bytes(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I8: return 1;
    case DType::I32: return 4;
    case DType::FP8E4M3: return 1;
    case DType::FP8E5M2: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I8: return "i8";
    case DType::I32: return "i32";
    case DType::FP8E4M3: return "fp8e4m3";
    case DType::FP8E5M2: return "fp8e5m2";
  }
  return "?";
}

}  // namespace ignis
