#include "device.h"

#include <cuda_runtime.h>

#include "gemm/cublaslt_api.h"
#include "nccl.h"

#include <string>

namespace ignis {
namespace {

/**
 * Whether the build's machine code runs on compute capability major.minor. IGNIS_ARCHS lists the
 * targets, e.g. "90a" or "80,90a": "XY" runs on X.Y and later minors of X; "XYa" only on X.Y.
 */
bool built_for(int major, int minor) {
  const std::string archs = IGNIS_ARCHS;
  size_t start = 0;
  while (start <= archs.size()) {
    const size_t end = archs.find(',', start) == std::string::npos ? archs.size() : archs.find(',', start);
    const std::string arch = archs.substr(start, end - start);
    if (arch.size() >= 2) {
      const int arch_major = std::stoi(arch.substr(0, arch.size() - (arch.back() == 'a' ? 2 : 1)));
      const int arch_minor = arch[arch.size() - (arch.back() == 'a' ? 2 : 1)] - '0';
      const bool exact = arch.back() == 'a';
      if (major == arch_major && (exact ? minor == arch_minor : minor >= arch_minor)) return true;
    }
    start = end + 1;
  }
  return false;
}

}  // namespace

DeviceInfo device_info() {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    if (info.driver_version == 0) info.reason = std::string("no NVIDIA driver is installed (") + cudaGetErrorString(status) + ")";
    else if (status != cudaSuccess) info.reason = std::string("no usable GPU: ") + cudaGetErrorString(status);
    else info.reason = "no CUDA device found";
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    info.reason = "cannot read the properties of GPU 0";
    return info;
  }
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  info.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  cudaMemGetInfo(&info.free_memory, &info.total_memory);
  const char* error = nullptr;
  if (const cublaslt::Api* api = cublaslt::api(&error)) {
    info.cublaslt = true;
    info.cublaslt_version = api->GetVersion();
  } else {
    info.cublaslt_error = error;
  }
  info.nccl = nccl::version(&info.nccl_version, &info.nccl_error);
  if (!built_for(prop.major, prop.minor)) {
    info.reason = "GPU " + info.name + " has compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                  "; this build has code for sm_" + std::string(IGNIS_ARCHS) + " only: rebuild with IGNIS_CUDA_ARCHS=" +
                  std::to_string(prop.major) + std::to_string(prop.minor);
    return info;
  }
  if (!info.cublaslt) {
    info.reason = info.cublaslt_error;
    return info;
  }
  info.available = true;
  return info;
}

}  // namespace ignis
