// NCCL is loaded at run time, like cuBLASLt, so that the addon needs neither its headers nor the
// library to build or to run on one GPU. Multi-GPU work (the parallel package) builds on this.
#include "nccl.h"

#include <dlfcn.h>

#include <mutex>

namespace ignis::nccl {
namespace {

using GetVersion = int (*)(int*);  // ncclResult_t ncclGetVersion(int* version); ncclSuccess == 0
GetVersion get_version = nullptr;
std::string failure;
std::once_flag once;

void load() {
  void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    failure = std::string("cannot load libnccl.so.2: ") + dlerror();
    return;
  }
  get_version = reinterpret_cast<GetVersion>(dlsym(lib, "ncclGetVersion"));
  if (!get_version) failure = "libnccl.so.2 has no symbol ncclGetVersion";
}

}  // namespace

bool version(int* version, std::string* error) {
  std::call_once(once, load);
  if (!get_version) {
    *error = failure;
    return false;
  }
  if (get_version(version) != 0) {
    *error = "ncclGetVersion failed";
    return false;
  }
  return true;
}

}  // namespace ignis::nccl
