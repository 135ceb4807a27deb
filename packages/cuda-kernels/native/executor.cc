#include "executor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "convert/convert.cuh"
#include "errors.h"
#include "quantize/quantize.cuh"

namespace ignis {
namespace {

constexpr size_t kStagingChunk = 64u << 20;

size_t value_bytes(const ValueDesc& v, const std::vector<int64_t>& dims) {
  return static_cast<size_t>(numel(v, dims)) * dtype_bytes(v.dtype);
}

/** Reads exactly `bytes` at `offset`, or throws naming the file. */
void read_fully(int fd, const std::string& path, void* into, size_t bytes, uint64_t offset) {
  auto* at = static_cast<uint8_t*>(into);
  while (bytes > 0) {
    const ssize_t got = pread(fd, at, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw std::runtime_error("reading " + path + ": " + (got < 0 ? std::strerror(errno) : "unexpected end of file"));
    at += got;
    bytes -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

}  // namespace

Executor::Executor(PlanDesc plan) : plan_(std::move(plan)) {
  const auto env_is = [](const char* name, const char* value) {
    const char* set = std::getenv(name);
    return set != nullptr && std::string(set) == value;
  };
  poison_ = env_is("IGNIS_CUDA_POISON", "1");
  graphs_enabled_ = !env_is("IGNIS_CUDA_GRAPHS", "0");
  profile_ = env_is("IGNIS_CUDA_PROFILE", "1");
  try {
    cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a CUDA stream");
    gemm_ = std::make_unique<gemm::Gemm>();
    stats_.workspace += gemm_->workspace_bytes();
    const std::vector<int64_t>& max = plan_.symbol_max;
    arena_ = allocate(plan_.arena_bytes, stats_.arena, "the step arena");
    ptrs_.assign(plan_.values.size(), nullptr);
    companions_.assign(plan_.values.size(), {});
    for (size_t i = 0; i < plan_.values.size(); ++i) {
      const ValueDesc& v = plan_.values[i];
      switch (v.kind) {
        case ValueKind::Input:
        case ValueKind::Activation:
          ptrs_[i] = static_cast<uint8_t*>(arena_) + v.arena_offset;
          break;
        case ValueKind::Weight:
          ptrs_[i] = allocate(value_bytes(v, max), stats_.weights, "weight " + v.name);
          if (v.format) {
            for (int64_t n : v.format->companions) {
              companions_[i].push_back(static_cast<float*>(allocate(static_cast<size_t>(n) * sizeof(float), stats_.weights, "scales of " + v.name)));
            }
          }
          break;
        case ValueKind::Constant:
          ptrs_[i] = allocate(value_bytes(v, max), stats_.weights, "constant " + v.name);
          break;
        case ValueKind::State:
          ptrs_[i] = allocate(value_bytes(v, max), stats_.state, "state " + v.name);
          cuda_check(cudaMemsetAsync(ptrs_[i], 0, value_bytes(v, max), stream_), "clearing " + v.name);
          break;
      }
    }
    if (plan_.input_bytes > 0) {
      cuda_check(cudaHostAlloc(reinterpret_cast<void**>(&pinned_in_), plan_.input_bytes, cudaHostAllocDefault), "pinning input staging");
      stats_.pinned += plan_.input_bytes;
    }
    size_t out_bytes = 0;
    for (const auto& [name, id] : plan_.outputs) {
      pinned_out_offset_[name] = out_bytes;
      out_bytes += (value_bytes(value(id), max) + 255) & ~size_t{255};
    }
    if (out_bytes > 0) {
      cuda_check(cudaHostAlloc(reinterpret_cast<void**>(&pinned_out_), out_bytes, cudaHostAllocDefault), "pinning output staging");
      stats_.pinned += out_bytes;
    }
    for (size_t i = 0; i < plan_.ops.size(); ++i) {
      const OpDesc& op = plan_.ops[i];
      const std::string label = "op #" + std::to_string(i) + " " + op.label + " (" + op.kind + ")";
      try {
        ops_.emplace_back(label, bind_op(op, *this));
      } catch (const std::exception& e) {
        throw std::runtime_error(label + ": " + e.what());
      }
    }
    scratch_bytes_ = scratch_needed_;
    if (scratch_bytes_ > 0) scratch_ = allocate(scratch_bytes_, stats_.workspace, "kernel scratch");
    cuda_check(cudaStreamSynchronize(stream_), "initializing state");
  } catch (...) {
    release();  // the destructor does not run when a constructor throws
    throw;
  }
}

Executor::~Executor() { release(); }

void Executor::release() {
  if (profile_ && !op_times_.empty()) {
    double total = 0;
    for (const auto& [kind, t] : op_times_) total += t.ms;
    std::fprintf(stderr, "[ignis profile] GPU time by op kind over %ld eager steps (%.3f ms per step):\n", profiled_steps_, total / static_cast<double>(profiled_steps_));
    for (const auto& [kind, t] : op_times_) {
      std::fprintf(stderr, "  %-22s %8ld calls %10.3f ms %6.1f%%  %8.2f us/call\n", kind.c_str(), t.calls, t.ms, 100.0 * t.ms / total,
                   1000.0 * t.ms / static_cast<double>(t.calls));
    }
    op_times_.clear();
  }
  for (cudaEvent_t e : op_events_) cudaEventDestroy(e);
  op_events_.clear();
  for (auto& [dims, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  gemm_.reset();
  for (void* p : owned_) cudaFree(p);
  owned_.clear();
  if (pinned_in_) cudaFreeHost(pinned_in_);
  if (pinned_out_) cudaFreeHost(pinned_out_);
  pinned_in_ = pinned_out_ = nullptr;
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

void* Executor::allocate(size_t bytes, size_t& counter, const std::string& what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky: clear it
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    throw std::runtime_error("out of GPU memory: allocating " + mib(bytes) + " for " + what + " (" + mib(free) + " free of " + mib(total) +
                             "): " + cudaGetErrorString(status));
  }
  owned_.push_back(p);
  counter += bytes;
  return p;
}

uint8_t* Executor::host_input(int32_t id) {
  const ValueDesc& v = value(id);
  if (v.kind != ValueKind::Input || v.arena_offset < 0 || static_cast<uint64_t>(v.arena_offset) >= plan_.input_bytes) {
    throw std::runtime_error("value " + v.name + " is not a step input");
  }
  return pinned_in_ + v.arena_offset;
}

void Executor::set_constant(int32_t id, const void* data, size_t bytes) {
  const ValueDesc& v = value(id);
  if (v.kind != ValueKind::Constant || bytes != value_bytes(v, plan_.symbol_max)) {
    throw std::runtime_error("constant " + v.name + ": got " + std::to_string(bytes) + " bytes, expected " +
                             std::to_string(value_bytes(v, plan_.symbol_max)));
  }
  cuda_check(cudaMemcpy(device(id), data, bytes, cudaMemcpyHostToDevice), "uploading " + v.name);
}

uint8_t* Executor::weight_range(int32_t id, uint64_t element, uint64_t count, const std::string& what) const {
  const ValueDesc& v = value(id);
  const uint64_t total = static_cast<uint64_t>(numel(v, plan_.symbol_max));
  if (v.kind != ValueKind::Weight || element + count > total) {
    throw std::runtime_error(what + ": elements [" + std::to_string(element) + ", " + std::to_string(element + count) + ") of " + v.name +
                             " (a weight of " + std::to_string(total) + ")");
  }
  const auto staged = staging_.find(id);
  void* base = staged == staging_.end() ? device(id) : staged->second;
  return static_cast<uint8_t*>(base) + element * dtype_bytes(load_dtype(id));
}

DType Executor::load_dtype(int32_t id) const {
  return staging_.count(id) ? *value(id).format->quantize_from : value(id).dtype;
}

void Executor::free_owned(void* p) {
  cudaFree(p);
  owned_.erase(std::find(owned_.begin(), owned_.end(), p));
}

float* Executor::companion(int32_t id, CompanionRole role) const {
  const size_t index = static_cast<size_t>(role);
  if (static_cast<size_t>(id) >= companions_.size() || index >= companions_[static_cast<size_t>(id)].size()) return nullptr;
  return companions_[static_cast<size_t>(id)][index];
}

void Executor::upload_companion(int32_t id, CompanionRole role, const float* data, size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ValueDesc& v = value(id);
  float* dst = companion(id, role);
  const size_t index = static_cast<size_t>(role);
  if (dst == nullptr || static_cast<int64_t>(count) != v.format->companions.at(index)) {
    throw std::runtime_error("weight " + v.name + ": companion " + std::to_string(index) + " of " + std::to_string(count) + " values does not fit");
  }
  cuda_check(cudaMemcpy(dst, data, count * sizeof(float), cudaMemcpyHostToDevice), "uploading the scales of " + v.name);
}

void Executor::stage_weight(int32_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ValueDesc& v = value(id);
  if (!v.format || !v.format->quantize_from || staging_.count(id)) throw std::runtime_error("weight " + v.name + " is not one to quantize at load");
  size_t unused = 0;
  const size_t bytes = static_cast<size_t>(numel(v, plan_.symbol_max)) * dtype_bytes(*v.format->quantize_from);
  staging_[id] = allocate(bytes, unused, "staging " + v.name + " for quantization");
}

void Executor::quantize_weight(int32_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ValueDesc& v = value(id);
  const auto staged = staging_.find(id);
  if (staged == staging_.end()) throw std::runtime_error("weight " + v.name + " was not staged");
  const int64_t rows = v.shape.at(0).add;
  const int64_t cols = v.shape.at(1).add;
  cuda_check(quantize::rows_fp8(*v.format->quantize_from, staged->second, static_cast<uint8_t*>(device(id)), companion(id, CompanionRole::WeightScale),
                                rows, cols, cols, nullptr, stream_),
             "quantizing " + v.name);
  cuda_check(cudaStreamSynchronize(stream_), "quantizing " + v.name);
  free_owned(staged->second);
  staging_.erase(staged);
}

void Executor::upload_weight(int32_t id, DType source, const void* data, size_t bytes, uint64_t element) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ValueDesc& v = value(id);
  if (bytes % dtype_bytes(source) != 0) throw std::runtime_error("weight " + v.name + ": " + std::to_string(bytes) + " bytes is not whole elements");
  const size_t count = bytes / dtype_bytes(source);
  uint8_t* dst = weight_range(id, element, count, "uploading");
  if (source == load_dtype(id)) {
    cuda_check(cudaMemcpy(dst, data, bytes, cudaMemcpyHostToDevice), "uploading " + v.name);
    return;
  }
  size_t unused = 0;
  void* temp = allocate(bytes, unused, "converting " + v.name);
  cuda_check(cudaMemcpy(temp, data, bytes, cudaMemcpyHostToDevice), "uploading " + v.name);
  cuda_check(convert::cast(source, temp, load_dtype(id), dst, count, stream_), "converting " + v.name);
  cuda_check(cudaStreamSynchronize(stream_), "converting " + v.name);
  free_owned(temp);
}

void Executor::fill_weight(int32_t id, uint32_t seed, float scale, float offset, uint64_t element, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ValueDesc& v = value(id);
  uint8_t* dst = weight_range(id, element, count, "filling");
  cuda_check(convert::fill_uniform(load_dtype(id), dst, count, seed, scale, offset, stream_), "filling " + v.name);
  cuda_check(cudaStreamSynchronize(stream_), "filling " + v.name);
}

// Reads file ranges through two pinned chunks: while the GPU copies (and converts) one, the
// next is read from disk into the other. No weight passes through the JavaScript heap.
void Executor::load_files(const std::vector<FileWeight>& weights) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t* pinned[2] = {nullptr, nullptr};
  void* temp[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};
  std::map<std::string, int> files;
  auto cleanup = [&] {
    cudaStreamSynchronize(stream_);
    for (int b = 0; b < 2; ++b) {
      if (pinned[b]) cudaFreeHost(pinned[b]);
      if (temp[b]) cudaFree(temp[b]);
      if (done[b]) cudaEventDestroy(done[b]);
    }
    for (auto& [path, fd] : files) close(fd);
  };
  try {
    for (int b = 0; b < 2; ++b) {
      cuda_check(cudaHostAlloc(reinterpret_cast<void**>(&pinned[b]), kStagingChunk, cudaHostAllocDefault), "pinning weight staging");
      cuda_check(cudaEventCreateWithFlags(&done[b], cudaEventDisableTiming), "creating an event");
    }
    size_t chunk_index = 0;
    for (const FileWeight& w : weights) {
      const ValueDesc& v = value(w.value);
      if (w.bytes % dtype_bytes(w.dtype) != 0) throw std::runtime_error("weight " + v.name + " in " + w.path + ": not whole elements");
      uint8_t* base = weight_range(w.value, w.element, w.bytes / dtype_bytes(w.dtype), "loading " + w.path);
      auto found = files.find(w.path);
      if (found == files.end()) {
        const int fd = open(w.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error("opening " + w.path + ": " + std::strerror(errno));
        found = files.emplace(w.path, fd).first;
      }
      const DType target = load_dtype(w.value);
      const bool convert = w.dtype != target;
      for (uint64_t done_bytes = 0; done_bytes < w.bytes; done_bytes += kStagingChunk, ++chunk_index) {
        const int b = static_cast<int>(chunk_index % 2);
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kStagingChunk, w.bytes - done_bytes));
        cuda_check(cudaEventSynchronize(done[b]), "waiting for a staging buffer");
        read_fully(found->second, w.path, pinned[b], n, w.offset + done_bytes);
        if (!convert) {
          cuda_check(cudaMemcpyAsync(base + done_bytes, pinned[b], n, cudaMemcpyHostToDevice, stream_), "copying " + v.name);
        } else {
          if (!temp[b]) cuda_check(cudaMalloc(&temp[b], kStagingChunk), "allocating conversion staging");
          cuda_check(cudaMemcpyAsync(temp[b], pinned[b], n, cudaMemcpyHostToDevice, stream_), "copying " + v.name);
          const size_t first = done_bytes / dtype_bytes(w.dtype);
          void* dst = base + first * dtype_bytes(target);
          cuda_check(convert::cast(w.dtype, temp[b], target, dst, n / dtype_bytes(w.dtype), stream_), "converting " + v.name);
        }
        cuda_check(cudaEventRecord(done[b], stream_), "recording an event");
      }
    }
    cuda_check(cudaStreamSynchronize(stream_), "loading weights");
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
}

void Executor::check_dims(const std::vector<int64_t>& dims) const {
  if (dims.size() != plan_.symbols.size()) {
    throw std::runtime_error("step has " + std::to_string(dims.size()) + " dims, the plan " + std::to_string(plan_.symbols.size()));
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 || dims[i] > plan_.symbol_max[i]) {
      throw std::runtime_error("step dimension " + plan_.symbols[i] + " = " + std::to_string(dims[i]) + " is outside [0, " +
                               std::to_string(plan_.symbol_max[i]) + "]");
    }
  }
}

void Executor::launch_ops(const StepContext& ctx) {
  const bool timing = profile_ && !ctx.graph;
  if (timing && op_events_.empty()) {
    op_events_.resize(ops_.size() + 1);
    for (cudaEvent_t& e : op_events_) cuda_check(cudaEventCreate(&e), "creating a profiling event");
  }
  if (timing) cuda_check(cudaEventRecord(op_events_[0], ctx.stream), "recording a profiling event");
  for (size_t i = 0; i < ops_.size(); ++i) {
    auto& [label, launch] = ops_[i];
    cudaError_t status;
    try {
      status = launch(ctx);
    } catch (const std::exception& e) {
      throw std::runtime_error(label + ": " + e.what());
    }
    if (status != cudaSuccess) throw std::runtime_error(label + ": " + cudaGetErrorString(status));
    if (timing) cuda_check(cudaEventRecord(op_events_[i + 1], ctx.stream), "recording a profiling event");
  }
  if (timing) {
    cuda_check(cudaStreamSynchronize(ctx.stream), "profiling");
    ++profiled_steps_;
    for (size_t i = 0; i < ops_.size(); ++i) {
      float ms = 0;
      cuda_check(cudaEventElapsedTime(&ms, op_events_[i], op_events_[i + 1]), "reading a profiling event");
      OpTime& t = op_times_[plan_.ops[i].kind];
      t.ms += ms;
      ++t.calls;
    }
  }
}

std::vector<std::vector<uint8_t>> Executor::run(const std::vector<int64_t>& dims, const std::vector<std::string>& outputs, bool use_graph) {
  std::lock_guard<std::mutex> lock(mutex_);
  use_graph = use_graph && graphs_enabled_;
  check_dims(dims);
  if (poison_) cuda_check(cudaMemsetAsync(arena_, 0xff, plan_.arena_bytes, stream_), "poisoning the arena");
  if (plan_.input_bytes > 0) cuda_check(cudaMemcpyAsync(arena_, pinned_in_, plan_.input_bytes, cudaMemcpyHostToDevice, stream_), "copying step inputs");
  const StepContext ctx{dims, stream_, use_graph};
  if (!use_graph) {
    launch_ops(ctx);
  } else {
    auto found = graphs_.find(dims);
    if (found != graphs_.end()) {
      cuda_check(cudaGraphLaunch(found->second, stream_), "replaying a CUDA graph");
    } else {
      // The first step of these dims runs eagerly (which also settles cuBLASLt's choices), then
      // the same launches are captured for the next steps.
      launch_ops(ctx);
      cudaGraph_t graph = nullptr;
      cuda_check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "beginning graph capture");
      capturing_ = true;
      try {
        launch_ops(ctx);
      } catch (...) {
        capturing_ = false;
        cudaStreamEndCapture(stream_, &graph);
        if (graph) cudaGraphDestroy(graph);
        throw;
      }
      capturing_ = false;
      cuda_check(cudaStreamEndCapture(stream_, &graph), "ending graph capture");
      cudaGraphExec_t exec = nullptr;
      const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
      cudaGraphDestroy(graph);
      cuda_check(status, "instantiating a CUDA graph");
      graphs_.emplace(dims, exec);
    }
  }
  std::vector<size_t> sizes;
  for (const std::string& name : outputs) {
    auto id = plan_.outputs.find(name);
    if (id == plan_.outputs.end()) throw std::runtime_error("the plan has no output " + name);
    const size_t bytes = value_bytes(value(id->second), dims);
    cuda_check(cudaMemcpyAsync(pinned_out_ + pinned_out_offset_.at(name), device(id->second), bytes, cudaMemcpyDeviceToHost, stream_),
               "copying output " + name);
    sizes.push_back(bytes);
  }
  const cudaError_t status = cudaStreamSynchronize(stream_);
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("a kernel of this step failed: ") + cudaGetErrorString(status) +
                             " (errors of this kind leave the GPU context unusable; reload the model)");
  }
  std::vector<std::vector<uint8_t>> copies;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const uint8_t* at = pinned_out_ + pinned_out_offset_.at(outputs[i]);
    copies.emplace_back(at, at + sizes[i]);
  }
  return copies;
}

std::vector<float> Executor::time(const std::vector<int64_t>& dims, int iterations) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_dims(dims);
  if (plan_.input_bytes > 0) cuda_check(cudaMemcpyAsync(arena_, pinned_in_, plan_.input_bytes, cudaMemcpyHostToDevice, stream_), "copying step inputs");
  const StepContext ctx{dims, stream_, false};
  launch_ops(ctx);  // warm-up: module loading, cuBLASLt's choice
  std::vector<cudaEvent_t> marks(static_cast<size_t>(iterations) + 1, nullptr);
  std::vector<float> ms(static_cast<size_t>(iterations), 0.f);
  try {
    for (auto& e : marks) cuda_check(cudaEventCreate(&e), "creating an event");
    cuda_check(cudaEventRecord(marks[0], stream_), "recording an event");
    for (int i = 0; i < iterations; ++i) {
      launch_ops(ctx);
      cuda_check(cudaEventRecord(marks[static_cast<size_t>(i) + 1], stream_), "recording an event");
    }
    cuda_check(cudaStreamSynchronize(stream_), "timing");
    for (int i = 0; i < iterations; ++i) cuda_check(cudaEventElapsedTime(&ms[static_cast<size_t>(i)], marks[static_cast<size_t>(i)], marks[static_cast<size_t>(i) + 1]), "reading an event");
  } catch (...) {
    for (auto& e : marks) if (e) cudaEventDestroy(e);
    throw;
  }
  for (auto& e : marks) cudaEventDestroy(e);
  return ms;
}

void* Executor::scratch_for(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  if (capturing_) throw std::runtime_error("kernel scratch would have to grow during a CUDA graph capture");
  cuda_check(cudaStreamSynchronize(stream_), "growing kernel scratch");
  for (auto& [dims, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  if (scratch_) {
    cudaFree(scratch_);
    owned_.erase(std::find(owned_.begin(), owned_.end(), scratch_));
    stats_.workspace -= scratch_bytes_;
  }
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  const size_t grown = bytes + bytes / 4;  // headroom: a few larger steps should not each reallocate
  scratch_ = allocate(grown, stats_.workspace, "kernel scratch");
  scratch_bytes_ = grown;
  return scratch_;
}

}  // namespace ignis
