#pragma once
// Where one attention layer's K/V rows live: the two paged caches and their element format.
// Host-side description, shared by the launchers that write the caches (kv_write, rope's
// qkv_to_cache); the kernels' device helpers are in common/fp8.cuh.
#include <cstdint>

#include "common/dtype.h"

namespace ignis {

/**
 * The paged K and V caches of one layer, each [num_slots, kv_heads * head_dim] (cache row = slot).
 * `dtype` is the activation dtype (rows stored as they are; both scales 1) or FP8E4M3: element x
 * is stored as e4m3(x / scale) (the quotient in f32, nearest even, saturating at ±448), with
 * `k_scale` for K and `v_scale` for V, and attention reads code * scale.
 */
struct KvCache {
  DType dtype = DType::F32;
  void* k = nullptr;
  void* v = nullptr;
  int64_t num_slots = 0;
  float k_scale = 1.f;
  float v_scale = 1.f;
};

}  // namespace ignis
