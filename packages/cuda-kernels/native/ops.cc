// Binds each op of a plan to its kernel: resolves device pointers and fixed sizes once, and
// returns a launch that reads only the step's dims (so that it can be captured in a CUDA graph).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "attention/attention.cuh"
#include "elementwise/elementwise.cuh"
#include "embedding/embedding.cuh"
#include "executor.h"
#include "gather/gather.cuh"
#include "kv_write/kv_write.cuh"
#include "penalties/penalties.cuh"
#include "quantize/quantize.cuh"
#include "rmsnorm/rmsnorm.cuh"
#include "rope/rope.cuh"
#include "sampling/sampling.cuh"
#include "top_logprobs/top_logprobs.cuh"

namespace ignis {
namespace {

/** Read access to one op's operands and attributes. */
struct OpView {
  const OpDesc& op;
  Executor& ex;

  const ValueDesc& in(size_t i) const { return ex.value(op.inputs.at(i)); }
  const ValueDesc& out(size_t i) const { return ex.value(op.outputs.at(i)); }
  void* in_ptr(size_t i) const { return ex.device(op.inputs.at(i)); }
  void* out_ptr(size_t i) const { return ex.device(op.outputs.at(i)); }
  bool has_input(size_t i) const { return op.inputs.size() > i; }

  double attr(const char* name) const {
    auto found = op.attrs.find(name);
    if (found == op.attrs.end()) throw std::runtime_error(std::string("missing attribute ") + name);
    return found->second;
  }

  /** An optional attribute, `fallback` when absent. */
  double attr_or(const char* name, double fallback) const {
    auto found = op.attrs.find(name);
    return found == op.attrs.end() ? fallback : found->second;
  }

  /** A dimension that must not depend on the step (weights, widths). */
  int64_t fixed(const ValueDesc& v, size_t axis) const {
    const DimExpr& d = v.shape.at(axis);
    if (d.symbol >= 0) throw std::runtime_error("dimension " + std::to_string(axis) + " of " + v.name + " must be fixed");
    return d.add;
  }

  /** The activation dtype the op computes in: f32 or bf16. */
  DType float_dtype(const ValueDesc& v) const {
    if (v.dtype != DType::F32 && v.dtype != DType::BF16) {
      throw std::runtime_error(v.name + " is " + dtype_name(v.dtype) + "; the CUDA backend computes in f32 or bf16");
    }
    return v.dtype;
  }

  void same_dtype(const ValueDesc& a, const ValueDesc& b) const {
    if (a.dtype != b.dtype) throw std::runtime_error(a.name + " is " + dtype_name(a.dtype) + " but " + b.name + " is " + dtype_name(b.dtype));
  }
};

Launch bind_embedding(const OpView& v) {
  const DType dtype = v.float_dtype(v.out(0));
  v.same_dtype(v.in(1), v.out(0));
  const auto* ids = static_cast<const int32_t*>(v.in_ptr(0));
  const void* table = v.in_ptr(1);
  void* out = v.out_ptr(0);
  const int vocab = static_cast<int>(v.fixed(v.in(1), 0));
  const int width = static_cast<int>(v.fixed(v.in(1), 1));
  const ValueDesc& ids_desc = v.in(0);
  return [=, &ids_desc](const StepContext& s) {
    return embedding::launch(dtype, ids, table, out, static_cast<int>(dim_of(ids_desc, 0, s.dims)), width, vocab, s.stream);
  };
}

Launch bind_rmsnorm(const OpView& v, bool fused) {
  const DType dtype = v.float_dtype(v.in(0));
  const ValueDesc& x = v.in(0);
  const void* xs = v.in_ptr(0);
  const void* residual = fused ? v.in_ptr(1) : nullptr;
  const void* weight = v.in_ptr(fused ? 2 : 1);
  v.same_dtype(v.in(fused ? 2 : 1), x);
  void* sum = fused ? v.out_ptr(0) : nullptr;
  void* out = v.out_ptr(fused ? 1 : 0);
  const int width = static_cast<int>(v.fixed(x, 1));
  const float eps = static_cast<float>(v.attr("eps"));
  return [=, &x](const StepContext& s) {
    return rmsnorm::launch(dtype, xs, residual, weight, sum, out, static_cast<int>(dim_of(x, 0, s.dims)), width, eps, s.stream);
  };
}

Launch bind_binary(const OpView& v, bool silu) {
  const DType dtype = v.float_dtype(v.in(0));
  const void* a = v.in_ptr(0);
  const void* b = v.in_ptr(1);
  void* out = v.out_ptr(0);
  const ValueDesc& result = v.out(0);
  return [=, &result](const StepContext& s) {
    const size_t n = static_cast<size_t>(numel(result, s.dims));
    return silu ? elementwise::silu_mul(dtype, a, b, out, n, s.stream) : elementwise::add(dtype, a, b, out, n, s.stream);
  };
}

constexpr size_t kScratchAlign = 256;
size_t align_up(size_t n) { return (n + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// W8A8 FP8: each step quantizes the input to e4m3 (per row, or with the checkpoint's static
// scale) into the scratch, then one FP8 GEMM applies both scale vectors (gemm::matmul_fp8).
Launch bind_linear_fp8(const OpView& v) {
  const ValueDesc& x = v.in(0);
  const ValueDesc& w = v.in(1);
  const DType in = v.float_dtype(x);
  const DType out = v.float_dtype(v.out(0));
  const WeightFormatDesc& format = *w.format;
  if (w.dtype != DType::FP8E4M3 || format.scale != ScaleKind::Channel ||
      (format.activation != ActivationKind::Fp8Token && format.activation != ActivationKind::Fp8Static)) {
    throw std::runtime_error(w.name + ": the CUDA backend runs FP8 (e4m3) weights with channel scales and per-token or static activations");
  }
  Executor& ex = v.ex;
  const int32_t weight_id = v.op.inputs.at(1);
  const float* input_scale = format.activation == ActivationKind::Fp8Static ? ex.companion(weight_id, CompanionRole::InputScale) : nullptr;
  const float* weight_scale = ex.companion(weight_id, CompanionRole::WeightScale);
  const void* xs = v.in_ptr(0);
  const void* codes = v.in_ptr(1);
  const void* bias = v.has_input(2) ? v.in_ptr(2) : nullptr;
  if (bias) v.same_dtype(v.in(2), v.out(0));
  void* y = v.out_ptr(0);
  const int64_t N = v.fixed(w, 0);
  const int64_t K = v.fixed(w, 1);
  const int64_t max_rows = dim_of(x, 0, ex.max_dims());
  const size_t codes_bytes = align_up(static_cast<size_t>(max_rows * K));
  ex.need_scratch(codes_bytes + static_cast<size_t>(max_rows) * sizeof(float));
  return [=, &ex, &x](const StepContext& s) {
    const int64_t T = dim_of(x, 0, s.dims);
    if (T == 0) return cudaSuccess;
    auto* scratch = static_cast<uint8_t*>(ex.scratch_for(align_up(static_cast<size_t>(T * K)) + static_cast<size_t>(T) * sizeof(float)));
    auto* x_scale = reinterpret_cast<float*>(scratch + align_up(static_cast<size_t>(T * K)));
    const cudaError_t status = quantize::rows_fp8(in, xs, scratch, x_scale, T, K, K, input_scale, s.stream);
    if (status != cudaSuccess) return status;
    ex.gemm().matmul_fp8(scratch, x_scale, codes, weight_scale, bias, out, y, T, N, K, s.stream);
    return cudaGetLastError();
  };
}

Launch bind_linear(const OpView& v) {
  if (v.in(1).format) return bind_linear_fp8(v);
  const ValueDesc& x = v.in(0);
  const DType in = v.float_dtype(x);
  const DType out = v.float_dtype(v.out(0));
  v.same_dtype(v.in(1), x);
  const void* xs = v.in_ptr(0);
  const void* w = v.in_ptr(1);
  const void* bias = v.has_input(2) ? v.in_ptr(2) : nullptr;
  if (bias) v.same_dtype(v.in(2), v.out(0));
  void* y = v.out_ptr(0);
  const int64_t N = v.fixed(v.in(1), 0);
  const int64_t K = v.fixed(v.in(1), 1);
  Executor* ex = &v.ex;
  return [=, &x](const StepContext& s) {
    ex->gemm().matmul(in, out, xs, w, bias, y, dim_of(x, 0, s.dims), N, K, s.stream);
    return cudaGetLastError();
  };
}

Launch bind_rope(const OpView& v) {
  const ValueDesc& x = v.in(0);
  const DType dtype = v.float_dtype(x);
  if (v.in(2).dtype != DType::F32) throw std::runtime_error("inverse frequencies must be f32");
  const void* xs = v.in_ptr(0);
  const auto* positions = static_cast<const int32_t*>(v.in_ptr(1));
  const auto* inv_freq = static_cast<const float*>(v.in_ptr(2));
  void* out = v.out_ptr(0);
  const int heads = static_cast<int>(v.attr("numHeads"));
  const int head_dim = static_cast<int>(v.attr("headDim"));
  const int half = static_cast<int>(v.fixed(v.in(2), 0));
  return [=, &x](const StepContext& s) {
    return rope::launch(dtype, xs, positions, inv_freq, out, static_cast<int>(dim_of(x, 0, s.dims)), heads, head_dim, half, s.stream);
  };
}

/** The largest value among the first `count` int32 entries at `host`. */
int max_of(const uint8_t* host, int64_t count) {
  const auto* values = reinterpret_cast<const int32_t*>(host);
  int32_t best = 0;
  for (int64_t i = 0; i < count; ++i) best = std::max(best, values[i]);
  return best;
}

/** The layer's KV caches (inputs 3 and 4): the activation dtype, or fp8 e4m3 with the op's kScale/vScale (absent: 1). */
KvCache kv_cache_of(const OpView& v, DType activations) {
  const ValueDesc& k = v.in(3);
  v.same_dtype(v.in(4), k);
  if (k.dtype != activations && k.dtype != DType::FP8E4M3) {
    throw std::runtime_error(k.name + " is " + dtype_name(k.dtype) + "; a KV cache holds the activation dtype (" + dtype_name(activations) +
                             ") or fp8e4m3");
  }
  KvCache cache;
  cache.dtype = k.dtype;
  cache.k = v.in_ptr(3);
  cache.v = v.in_ptr(4);
  cache.k_scale = static_cast<float>(v.attr_or("kScale", 1.0));
  cache.v_scale = static_cast<float>(v.attr_or("vScale", 1.0));
  const bool fp8 = k.dtype == DType::FP8E4M3;
  for (float scale : {cache.k_scale, cache.v_scale}) {
    if (!(std::isfinite(scale) && scale > 0.f) || (!fp8 && scale != 1.f)) {
      throw std::runtime_error("KV cache scales must be finite and positive, and 1 for a " + std::string(dtype_name(k.dtype)) + " cache; got kScale " +
                               std::to_string(cache.k_scale) + ", vScale " + std::to_string(cache.v_scale));
    }
  }
  return cache;
}

// Both attention ops: write the step's K/V into the cache (paged_attention: copies k and v;
// paged_attention_qkv: rotates q into the front of the scratch and rotated k and v into the
// cache, from packed q|k|v rows; an fp8 cache stores e4m3 codes of x / scale), then attend.
// Outside CUDA graphs the host bounds of the grid come from this step's query starts and lengths
// (pinned host copies); graphs use capacities, and the kernels read the real lengths from device
// memory.
Launch bind_attention(const OpView& v, bool packed) {
  const ValueDesc& rows = v.in(0);
  const DType dtype = v.float_dtype(rows);
  KvCache cache = kv_cache_of(v, dtype);
  if (!packed) for (size_t i : {size_t{1}, size_t{2}}) v.same_dtype(v.in(i), rows);
  if (packed && v.in(2).dtype != DType::F32) throw std::runtime_error("inverse frequencies must be f32");
  Executor& ex = v.ex;
  const ValueDesc& cache_desc = v.in(3);
  const ValueDesc& tables = v.in(6);
  const ValueDesc& lens = v.in(7);
  const int32_t lens_id = v.op.inputs.at(7);
  const int32_t starts_id = v.op.inputs.at(8);
  ex.host_input(lens_id);  // throws now, not mid-step, if these are not step inputs
  ex.host_input(starts_id);
  attention::Params base{};
  base.dtype = dtype == DType::F32 ? attention::DType::F32 : attention::DType::BF16;
  base.kv_format = cache.dtype == DType::FP8E4M3 ? attention::KvFormat::FP8E4M3 : attention::KvFormat::Plain;
  base.k_scale = cache.k_scale;
  base.v_scale = cache.v_scale;
  // Packed: the rotated q lives in scratch, whose address is known only at launch. Until then q
  // points at the packed input, which is as aligned: workspace_bytes() validates its parameters
  // and answers 0 for a null q, which would size the split-K partials at nothing.
  base.q = v.in_ptr(0);
  base.k_cache = v.in_ptr(3);
  base.v_cache = v.in_ptr(4);
  base.out = v.out_ptr(0);
  base.block_tables = static_cast<const int32_t*>(v.in_ptr(6));
  base.seq_lens = static_cast<const int32_t*>(v.in_ptr(7));
  base.query_start = static_cast<const int32_t*>(v.in_ptr(8));
  base.num_heads = static_cast<int>(v.attr("numHeads"));
  base.num_kv_heads = static_cast<int>(v.attr("numKvHeads"));
  base.head_dim = static_cast<int>(v.attr("headDim"));
  base.block_size = static_cast<int>(v.fixed(cache_desc, 1));
  base.scale = static_cast<float>(v.attr("scale"));
  base.sliding_window = static_cast<int>(v.attr("slidingWindow"));
  const void* in0 = v.in_ptr(0);
  const void* in1 = v.in_ptr(1);
  const void* in2 = v.in_ptr(2);
  const auto* slots = static_cast<const int32_t*>(v.in_ptr(5));
  const int row_width = base.num_kv_heads * base.head_dim;
  cache.num_slots = numel(cache_desc, ex.max_dims()) / row_width;
  const int half = packed ? static_cast<int>(v.fixed(v.in(2), 0)) : 0;

  // Scratch for the largest step this plan allows, both as a prefill (long queries) and as a
  // decode (one query row per sequence, the split-K path, whose partials need the most room),
  // after the rotated q of the packed variant.
  attention::Params largest = base;
  largest.num_seqs = static_cast<int>(dim_of(lens, 0, ex.max_dims()));
  largest.num_tokens = static_cast<int>(dim_of(rows, 0, ex.max_dims()));
  largest.max_blocks_per_seq = static_cast<int>(dim_of(tables, 1, ex.max_dims()));
  largest.max_query_len = largest.num_tokens;
  largest.max_context_len = largest.max_blocks_per_seq * base.block_size;
  attention::Params decode = largest;
  decode.num_tokens = std::min(largest.num_tokens, largest.num_seqs);
  decode.max_query_len = 1;
  const size_t q_bytes = packed ? align_up(static_cast<size_t>(largest.num_tokens) * base.num_heads * base.head_dim * dtype_bytes(dtype)) : 0;
  ex.need_scratch(q_bytes + std::max(attention::workspace_bytes(largest), attention::workspace_bytes(decode)));

  return [=, &ex, &rows, &tables, &lens](const StepContext& s) {
    attention::Params p = base;
    p.num_tokens = static_cast<int>(dim_of(rows, 0, s.dims));
    p.num_seqs = static_cast<int>(dim_of(lens, 0, s.dims));
    p.max_blocks_per_seq = static_cast<int>(dim_of(tables, 1, s.dims));
    if (s.graph) {
      if (p.num_tokens != p.num_seqs) throw std::runtime_error("CUDA graphs are for decode steps (one token per sequence)");
      p.max_query_len = 1;
      p.max_context_len = p.max_blocks_per_seq * p.block_size;
    } else {
      const auto* start = reinterpret_cast<const int32_t*>(ex.host_input(starts_id));
      int longest = 0;
      for (int i = 0; i < p.num_seqs; ++i) longest = std::max(longest, start[i + 1] - start[i]);
      p.max_query_len = std::max(longest, 1);
      p.max_context_len = std::max(max_of(ex.host_input(lens_id), p.num_seqs), 1);
    }
    auto* scratch = static_cast<uint8_t*>(ex.scratch_for(q_bytes + attention::workspace_bytes(p)));
    cudaError_t status;
    if (packed) {
      p.q = scratch;
      status = rope::qkv_to_cache(dtype, in0, static_cast<const int32_t*>(in1), static_cast<const float*>(in2), slots, scratch, cache,
                                  p.num_tokens, p.num_heads, p.num_kv_heads, p.head_dim, half, s.stream);
    } else {
      status = kv_write::launch(dtype, in1, in2, slots, cache, p.num_tokens, row_width, s.stream);
    }
    if (status != cudaSuccess || p.num_tokens == 0) return status;
    return attention::launch(p, scratch + q_bytes, s.stream);
  };
}

Launch bind_swiglu(const OpView& v) {
  const DType dtype = v.float_dtype(v.in(0));
  const void* gate_up = v.in_ptr(0);
  void* out = v.out_ptr(0);
  const ValueDesc& result = v.out(0);
  const size_t width = static_cast<size_t>(v.fixed(result, 1));
  return [=, &result](const StepContext& s) {
    return elementwise::swiglu(dtype, gate_up, out, static_cast<size_t>(dim_of(result, 0, s.dims)), width, s.stream);
  };
}

Launch bind_gather_rows(const OpView& v) {
  const ValueDesc& x = v.in(0);
  const DType dtype = v.float_dtype(x);
  const ValueDesc& indices = v.in(1);
  const void* xs = v.in_ptr(0);
  const auto* idx = static_cast<const int32_t*>(v.in_ptr(1));
  void* out = v.out_ptr(0);
  const int width = static_cast<int>(v.fixed(x, 1));
  return [=, &x, &indices](const StepContext& s) {
    return gather::rows(dtype, xs, idx, out, static_cast<int>(dim_of(indices, 0, s.dims)), width, static_cast<int>(dim_of(x, 0, s.dims)),
                        s.stream);
  };
}

Launch bind_sample(const OpView& v) {
  const ValueDesc& logits = v.in(0);
  if (logits.dtype != DType::F32) throw std::runtime_error("sampling takes f32 logits");
  Executor& ex = v.ex;
  const int vocab = static_cast<int>(v.fixed(logits, 1));
  sampling::Params base{};
  base.logits = static_cast<const float*>(v.in_ptr(0));
  base.vocab = vocab;
  base.temperature = static_cast<const float*>(v.in_ptr(1));
  base.top_k = static_cast<const int32_t*>(v.in_ptr(2));
  base.top_p = static_cast<const float*>(v.in_ptr(3));
  base.min_p = static_cast<const float*>(v.in_ptr(4));
  base.seed = static_cast<const uint32_t*>(v.in_ptr(5));
  base.step = static_cast<const int32_t*>(v.in_ptr(6));
  base.out_token = static_cast<int32_t*>(v.out_ptr(0));
  base.out_logprob = static_cast<float*>(v.out_ptr(1));
  ex.need_scratch(sampling::workspace_bytes(static_cast<int>(dim_of(logits, 0, ex.max_dims())), vocab));
  return [=, &ex, &logits](const StepContext& s) {
    sampling::Params p = base;
    p.rows = static_cast<int>(dim_of(logits, 0, s.dims));
    if (p.rows == 0) return cudaSuccess;
    return sampling::launch(p, ex.scratch_for(sampling::workspace_bytes(p.rows, p.vocab)), s.stream);
  };
}

Launch bind_penalties(const OpView& v) {
  const ValueDesc& logits = v.in(0);
  if (logits.dtype != DType::F32) throw std::runtime_error("penalties take f32 logits");
  const auto* in = static_cast<const float*>(v.in_ptr(0));
  auto* out = static_cast<float*>(v.out_ptr(0));  // the same address when the plan made it in place
  const auto* tokens = static_cast<const int32_t*>(v.in_ptr(1));
  const auto* start = static_cast<const int32_t*>(v.in_ptr(2));
  const auto* output_start = static_cast<const int32_t*>(v.in_ptr(3));
  const auto* repetition = static_cast<const float*>(v.in_ptr(4));
  const auto* presence = static_cast<const float*>(v.in_ptr(5));
  const auto* frequency = static_cast<const float*>(v.in_ptr(6));
  const int vocab = static_cast<int>(v.fixed(logits, 1));
  return [=, &logits](const StepContext& s) {
    return penalties::launch(in, out, tokens, start, output_start, repetition, presence, frequency, static_cast<int>(dim_of(logits, 0, s.dims)),
                             vocab, s.stream);
  };
}

Launch bind_top_logprobs(const OpView& v) {
  const ValueDesc& logits = v.in(0);
  if (logits.dtype != DType::F32) throw std::runtime_error("top_logprobs takes f32 logits");
  const auto* in = static_cast<const float*>(v.in_ptr(0));
  auto* token = static_cast<int32_t*>(v.out_ptr(0));
  auto* logprob = static_cast<float*>(v.out_ptr(1));
  const ValueDesc& out = v.out(0);
  const int vocab = static_cast<int>(v.fixed(logits, 1));
  if (dim_of(out, 1, v.ex.max_dims()) > top_logprobs::kMaxCount) {
    throw std::runtime_error("top_logprobs: at most " + std::to_string(top_logprobs::kMaxCount) + " per row");
  }
  return [=, &logits, &out](const StepContext& s) {
    return top_logprobs::launch(in, token, logprob, static_cast<int>(dim_of(logits, 0, s.dims)), vocab, static_cast<int>(dim_of(out, 1, s.dims)),
                                s.stream);
  };
}

}  // namespace

Launch bind_op(const OpDesc& op, Executor& executor) {
  const OpView v{op, executor};
  if (op.kind == "embedding") return bind_embedding(v);
  if (op.kind == "rmsnorm") return bind_rmsnorm(v, false);
  if (op.kind == "add_rmsnorm") return bind_rmsnorm(v, true);
  if (op.kind == "add") return bind_binary(v, false);
  if (op.kind == "silu_mul") return bind_binary(v, true);
  if (op.kind == "linear") return bind_linear(v);
  if (op.kind == "rope") return bind_rope(v);
  if (op.kind == "paged_attention") return bind_attention(v, false);
  if (op.kind == "paged_attention_qkv") return bind_attention(v, true);
  if (op.kind == "swiglu") return bind_swiglu(v);
  if (op.kind == "penalties") return bind_penalties(v);
  if (op.kind == "gather_rows") return bind_gather_rows(v);
  if (op.kind == "sample") return bind_sample(v);
  if (op.kind == "top_logprobs") return bind_top_logprobs(v);
  throw std::runtime_error("the CUDA backend has no kernel for op " + op.kind);
}

}  // namespace ignis
