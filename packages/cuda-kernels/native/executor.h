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
  void upload_weight(int32_t id, DType source, const void* data, size_t bytes);
  void load_files(const std::vector<FileWeight>& weights);
  void fill_weight(int32_t id, uint32_t seed, float scale, float offset);

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
  /** Scratch shared by ops (attention partials, sampling), sized at load for the largest step. */
  void* scratch() const { return scratch_; }
  size_t scratch_bytes() const { return scratch_bytes_; }
  /** Ops call this at bind time to size the shared scratch. */
  void need_scratch(size_t bytes) { scratch_needed_ = bytes > scratch_needed_ ? bytes : scratch_needed_; }

 private:
  void launch_ops(const StepContext& ctx);
  /** Frees everything; safe to call twice. */
  void release();
  void* allocate(size_t bytes, size_t& counter, const std::string& what);
  void check_dims(const std::vector<int64_t>& dims, bool use_graph) const;

  PlanDesc plan_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<gemm::Gemm> gemm_;
  std::vector<void*> ptrs_;
  std::vector<void*> owned_;
  void* arena_ = nullptr;
  uint8_t* pinned_in_ = nullptr;
  uint8_t* pinned_out_ = nullptr;
  std::map<std::string, size_t> pinned_out_offset_;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  size_t scratch_needed_ = 0;
  std::vector<std::pair<std::string, Launch>> ops_;
  std::map<std::vector<int64_t>, cudaGraphExec_t> graphs_;
  MemoryStats stats_;
  std::mutex mutex_;
  /** IGNIS_CUDA_POISON=1: fill the step arena with NaN bytes before every step, so that an output an op fails to write shows up in tests. */
  bool poison_ = false;
};

}  // namespace ignis
