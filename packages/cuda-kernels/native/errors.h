#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace ignis {

/** Throws a readable error for a failed CUDA runtime call. */
inline void cuda_check(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw std::runtime_error(what + ": " + cudaGetErrorString(status));
}

/** Bytes as MiB with one decimal, for messages. */
inline std::string mib(size_t bytes) {
  char text[32];
  snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

}  // namespace ignis
