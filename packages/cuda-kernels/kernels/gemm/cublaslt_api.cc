#include "gemm/cublaslt_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace ignis::cublaslt {
namespace {

Api loaded{};
const Api* result = nullptr;
std::string failure;
std::once_flag once;

template <typename F>
bool resolve(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) failure = std::string("libcublasLt has no symbol ") + name;
  return fn != nullptr;
}

void load() {
  void* lib = nullptr;
  for (const char* name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) {
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
  }
  if (!lib) {
    failure = std::string("cannot load libcublasLt (.so.13/.so.12): ") + dlerror();
    return;
  }
  Api a{};
  const bool ok = resolve(lib, "cublasLtGetVersion", a.GetVersion) && resolve(lib, "cublasLtCreate", a.Create) &&
                  resolve(lib, "cublasLtDestroy", a.Destroy) && resolve(lib, "cublasLtMatmulDescCreate", a.MatmulDescCreate) &&
                  resolve(lib, "cublasLtMatmulDescDestroy", a.MatmulDescDestroy) &&
                  resolve(lib, "cublasLtMatmulDescSetAttribute", a.MatmulDescSetAttribute) &&
                  resolve(lib, "cublasLtMatrixLayoutCreate", a.MatrixLayoutCreate) &&
                  resolve(lib, "cublasLtMatrixLayoutDestroy", a.MatrixLayoutDestroy) &&
                  resolve(lib, "cublasLtMatmulPreferenceCreate", a.MatmulPreferenceCreate) &&
                  resolve(lib, "cublasLtMatmulPreferenceDestroy", a.MatmulPreferenceDestroy) &&
                  resolve(lib, "cublasLtMatmulPreferenceSetAttribute", a.MatmulPreferenceSetAttribute) &&
                  resolve(lib, "cublasLtMatmulAlgoGetHeuristic", a.MatmulAlgoGetHeuristic) && resolve(lib, "cublasLtMatmul", a.Matmul);
  if (!ok) return;
  loaded = a;
  result = &loaded;
}

}  // namespace

const Api* api(const char** error) {
  std::call_once(once, load);
  if (error) *error = result ? nullptr : failure.c_str();
  return result;
}

}  // namespace ignis::cublaslt
