#pragma once
// A compiled plan as the executor sees it: the TypeScript Plan flattened by src/cuda-backend.ts.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace ignis {

/** Matches the TypeScript ValueKind order in src/native.ts. */
enum class ValueKind : int32_t { Input = 0, Weight = 1, Constant = 2, State = 3, Activation = 4 };

/** One dimension: `add` when `symbol` < 0, else dims[symbol] + add (e.g. S+1). */
struct DimExpr {
  int32_t symbol = -1;
  int64_t add = 0;
};

/** Matches SCALE_KINDS in src/native.ts: which weight elements share a scale. */
enum class ScaleKind : int32_t { Channel = 0, Block = 1, Group = 2 };
/** Matches ACTIVATION_KINDS in src/native.ts: how a quantized linear treats its input. */
enum class ActivationKind : int32_t { None = 0, Fp8Token = 1, Fp8Static = 2, Fp8TokenGroup = 3 };
/** Matches COMPANION_ROLES in src/native.ts. */
enum class CompanionRole : int32_t { WeightScale = 0, InputScale = 1 };

/** A quantized weight's format (see WeightFormat in @ignis/tensor). */
struct WeightFormatDesc {
  ScaleKind scale = ScaleKind::Channel;
  /** Block rows and columns, or 1 and the group size; 0 for channel scales. */
  int64_t tile_rows = 0, tile_cols = 0;
  ActivationKind activation = ActivationKind::None;
  /** Set for a weight quantized at load: the float dtype it is read in. */
  std::optional<DType> quantize_from;
  /** f32 elements of each companion, in CompanionRole order. */
  std::vector<int64_t> companions;
};

struct ValueDesc {
  std::string name;
  ValueKind kind = ValueKind::Activation;
  DType dtype = DType::F32;
  std::vector<DimExpr> shape;
  /** Byte offset in the step arena (inputs and activations), else -1. */
  int64_t arena_offset = -1;
  /** Quantized weights only. */
  std::optional<WeightFormatDesc> format;
};

struct OpDesc {
  std::string kind;
  /** A readable label: the name of the op's first output. */
  std::string label;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::map<std::string, double> attrs;
};

struct PlanDesc {
  std::vector<ValueDesc> values;
  std::vector<OpDesc> ops;
  /** Graph outputs by name -> value id. */
  std::map<std::string, int32_t> outputs;
  /** Symbol names, in the order of the dims array of every step. */
  std::vector<std::string> symbols;
  /** Per symbol: the largest size a step may use (load-time symbols: their fixed size). */
  std::vector<int64_t> symbol_max;
  uint64_t arena_bytes = 0;
  /** Inputs come first in the arena: [0, input_bytes) is copied from the host every step. */
  uint64_t input_bytes = 0;
};

inline int64_t eval_dim(const DimExpr& d, const std::vector<int64_t>& dims) {
  return d.symbol < 0 ? d.add : dims.at(static_cast<size_t>(d.symbol)) + d.add;
}

inline int64_t numel(const ValueDesc& v, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (const DimExpr& d : v.shape) n *= eval_dim(d, dims);
  return n;
}

inline int64_t dim_of(const ValueDesc& v, size_t axis, const std::vector<int64_t>& dims) { return eval_dim(v.shape.at(axis), dims); }

}  // namespace ignis
