#pragma once
#include <cstddef>
#include <string>

namespace ignis {

/** What the process can use: the GPU (if any), the CUDA runtime and driver, cuBLASLt and NCCL. */
struct DeviceInfo {
  bool available = false;
  std::string reason;  // why not, in one line, when !available
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0;
  size_t total_memory = 0, free_memory = 0, l2_bytes = 0;
  int driver_version = 0, runtime_version = 0;
  bool cublaslt = false;
  size_t cublaslt_version = 0;
  std::string cublaslt_error;
  bool nccl = false;
  int nccl_version = 0;
  std::string nccl_error;
};

DeviceInfo device_info();

}  // namespace ignis
