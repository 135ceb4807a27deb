#pragma once
#include <string>

namespace ignis::nccl {
/** Loads libnccl with dlopen (once) and reports its version; false with `error` set when it cannot. */
bool version(int* version, std::string* error);
}
