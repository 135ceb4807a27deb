#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gemm/gemm.h"
#include "plan.h"

namespace ignis {

/** A weight read straight from a file range (safetensors data), converted to the value's dtype on the device. */
struct FileWeight {
  int32_t value = -1;
  std::string path;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  DType dtype = DType::F32;
  /** Where the range goes in the weight, in elements (fused weights are stacked parts). */
  uint64_t element = 0;
};

/** Device bytes held, by purpose. */
struct MemoryStats {
  size_t weights = 0, state = 0, arena = 0, workspace = 0, pinned = 0;
};

/** What one op's launch sees in a step. */
struct StepContext {
  const std::vector<int64_t>& dims;
  cudaStream_t stream;
  /** CUDA-graph mode: host-side bounds come from capacities, never from this step's data. */
  bool graph;
};

/** An op bound to its device buffers; returns the launch status. */
using Launch = std::function<cudaError_t(const StepContext&)>;

class Executor;
/** Binds one op of the plan (ops.cc). Throws for an op or dtype the CUDA backend does not implement. */
Launch bind_op(const OpDesc& op, Executor& executor);

/**
 * A plan loaded on the GPU: one stream, a step arena sized for the largest step, weights, state
 * (KV caches), workspaces and pinned staging. `run` executes a whole step (eagerly, or by
 * capturing and replaying a CUDA graph per dims) with no JavaScript between ops. Steps are
 * serialized by a mutex.
 */
class Executor {
 public:
  explicit Executor(PlanDesc plan);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const PlanDesc& plan() const { return plan_; }
  const ValueDesc& value(int32_t id) const { return plan_.values.at(static_cast<size_t>(id)); }
  void* device(int32_t id) const { return ptrs_.at(static_cast<size_t>(id)); }
  /** Pinned host staging of an input value (copied to the device at the start of every step). */
  uint8_t* host_input(int32_t id);
  /** The largest size of each symbol, as a dims vector (capacities). */
  const std::vector<int64_t>& max_dims() const { return plan_.symbol_max; }

  void set_constant(int32_t id, const void* data, size_t bytes);
  /** Copies host data (converted to the weight's dtype) into elements [element, element + count) of a weight. */
  void upload_weight(int32_t id, DType source, const void* data, size_t bytes, uint64_t element);
  void load_files(const std::vector<FileWeight>& weights);
  /** Fills elements [element, element + count) of a weight with synthetic values (convert::fill_uniform). */
  void fill_weight(int32_t id, uint32_t seed, float scale, float offset, uint64_t element, uint64_t count);
  /** A quantized weight's companion (f32 on the device), or null when it has none of that role. */
  float* companion(int32_t id, CompanionRole role) const;
  void upload_companion(int32_t id, CompanionRole role, const float* data, size_t count);
  /**
   * For a weight quantized at load: until quantize_weight, loads into it go to a staging buffer
   * in its quantize_from dtype; quantize_weight then quantizes each output row into the weight's
   * e4m3 codes and its scale companion (quantize::rows_fp8) and frees the staging.
   */
  void stage_weight(int32_t id);
  void quantize_weight(int32_t id);

  /**
   * Times `iterations` eager runs of the step whose inputs are staged (after one warm-up run):
   * milliseconds per run, from CUDA events around each run's launches.
   */
  std::vector<float> time(const std::vector<int64_t>& dims, int iterations);

  /** Runs one step and returns copies of the requested outputs' bytes (their actual sizes). */
  std::vector<std::vector<uint8_t>> run(const std::vector<int64_t>& dims, const std::vector<std::string>& outputs, bool use_graph);

  MemoryStats memory() const { return stats_; }
  gemm::Gemm& gemm() { return *gemm_; }
  cudaStream_t stream() const { return stream_; }
  /**
   * Scratch shared by ops (attention partials, the rotated q), at least `bytes` long. Ops run one
   * after another on one stream, so one buffer serves all. It grows when a step needs more than
   * any before (a kernel's split choice depends on the step's real sizes, so no load-time shape
   * bounds it); growing drops the captured CUDA graphs, which hold the old address. Growth
   * happens only in eager launches, which always precede the capture of the same dims.
   */
  void* scratch_for(size_t bytes);
  /** Ops call this at bind time with an estimate, so that most steps find the scratch big enough. */
  void need_scratch(size_t bytes) { scratch_needed_ = bytes > scratch_needed_ ? bytes : scratch_needed_; }

 private:
  void launch_ops(const StepContext& ctx);
  /** Frees everything; safe to call twice. */
  void release();
  void* allocate(size_t bytes, size_t& counter, const std::string& what);
  void check_dims(const std::vector<int64_t>& dims) const;
  /** The weight `id` and its element range [element, element + count), checked; returns the range's address (in the staging buffer while staged). */
  uint8_t* weight_range(int32_t id, uint64_t element, uint64_t count, const std::string& what) const;
  /** The dtype loads into weight `id` are converted to: its own, or its quantize_from while staged. */
  DType load_dtype(int32_t id) const;
  /** Frees one buffer this executor allocated. */
  void free_owned(void* p);

  PlanDesc plan_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<gemm::Gemm> gemm_;
  std::vector<void*> ptrs_;
  /** Per value: its companions' device buffers, in CompanionRole order (empty for unquantized values). */
  std::vector<std::vector<float*>> companions_;
  /** Staging buffers of weights quantized at load, by value id, while they load. */
  std::map<int32_t, void*> staging_;
  std::vector<void*> owned_;
  void* arena_ = nullptr;
  uint8_t* pinned_in_ = nullptr;
  uint8_t* pinned_out_ = nullptr;
  std::map<std::string, size_t> pinned_out_offset_;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  size_t scratch_needed_ = 0;
  /** True while a CUDA graph is being captured (no allocation then). */
  bool capturing_ = false;
  std::vector<std::pair<std::string, Launch>> ops_;
  std::map<std::vector<int64_t>, cudaGraphExec_t> graphs_;
  MemoryStats stats_;
  std::mutex mutex_;
  /** IGNIS_CUDA_POISON=1: fill the step arena with NaN bytes before every step, so that an output an op fails to write shows up in tests. */
  bool poison_ = false;
  /** IGNIS_CUDA_GRAPHS=0: run every step eagerly (to profile decode steps op by op). */
  bool graphs_enabled_ = true;
  /** IGNIS_CUDA_PROFILE=1: time every op of eager steps with CUDA events; totals per op kind go to stderr at release. */
  bool profile_ = false;
  struct OpTime {
    double ms = 0;
    long calls = 0;
  };
  std::map<std::string, OpTime> op_times_;
  long profiled_steps_ = 0;
  std::vector<cudaEvent_t> op_events_;
};

}  // namespace ignis
