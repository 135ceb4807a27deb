// The N-API surface: deviceInfo() and the Executor class. Long work (weight loading, steps) runs
// on libuv's thread pool through AsyncWorkers and resolves promises, so the event loop stays free.
#include <napi.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "device.h"
#include "executor.h"

namespace ignis {
namespace {

Napi::Object DeviceInfoObject(Napi::Env env) {
  const DeviceInfo d = device_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", d.available);
  if (!d.reason.empty()) o.Set("reason", d.reason);
  o.Set("runtimeVersion", d.runtime_version);
  o.Set("driverVersion", d.driver_version);
  o.Set("buildArchs", IGNIS_ARCHS);
  if (!d.name.empty()) {
    o.Set("name", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("multiprocessors", d.multiprocessors);
    o.Set("totalMemory", static_cast<double>(d.total_memory));
    o.Set("freeMemory", static_cast<double>(d.free_memory));
    o.Set("l2Bytes", static_cast<double>(d.l2_bytes));
    Napi::Object cublas = Napi::Object::New(env);
    cublas.Set("available", d.cublaslt);
    if (d.cublaslt) cublas.Set("version", static_cast<double>(d.cublaslt_version));
    else cublas.Set("error", d.cublaslt_error);
    o.Set("cublasLt", cublas);
    Napi::Object nccl = Napi::Object::New(env);
    nccl.Set("available", d.nccl);
    if (d.nccl) nccl.Set("version", d.nccl_version);
    else nccl.Set("error", d.nccl_error);
    o.Set("nccl", nccl);
  }
  return o;
}

int64_t ToInt(const Napi::Value& v) { return static_cast<int64_t>(v.As<Napi::Number>().Int64Value()); }

/** A weight format as src/cuda-backend.ts flattens it. */
WeightFormatDesc ParseFormat(const Napi::Object& o) {
  WeightFormatDesc f;
  f.scale = static_cast<ScaleKind>(ToInt(o.Get("scaleKind")));
  f.tile_rows = ToInt(o.Get("tileRows"));
  f.tile_cols = ToInt(o.Get("tileCols"));
  f.activation = static_cast<ActivationKind>(ToInt(o.Get("activation")));
  if (o.Has("quantizeFrom")) f.quantize_from = static_cast<DType>(ToInt(o.Get("quantizeFrom")));
  const Napi::Array companions = o.Get("companions").As<Napi::Array>();
  for (uint32_t i = 0; i < companions.Length(); ++i) f.companions.push_back(ToInt(companions.Get(i)));
  return f;
}

/** The plan object built by src/cuda-backend.ts (flattenPlan). */
PlanDesc ParsePlan(const Napi::Object& o) {
  PlanDesc plan;
  const Napi::Array values = o.Get("values").As<Napi::Array>();
  for (uint32_t i = 0; i < values.Length(); ++i) {
    const Napi::Object v = values.Get(i).As<Napi::Object>();
    ValueDesc d;
    d.name = v.Get("name").As<Napi::String>();
    d.kind = static_cast<ValueKind>(ToInt(v.Get("kind")));
    d.dtype = static_cast<DType>(ToInt(v.Get("dtype")));
    d.arena_offset = ToInt(v.Get("offset"));
    const Napi::Array shape = v.Get("shape").As<Napi::Array>();
    for (uint32_t j = 0; j < shape.Length(); ++j) {
      const Napi::Array dim = shape.Get(j).As<Napi::Array>();
      d.shape.push_back(DimExpr{static_cast<int32_t>(ToInt(dim.Get(0u))), ToInt(dim.Get(1u))});
    }
    if (v.Has("format")) d.format = ParseFormat(v.Get("format").As<Napi::Object>());
    plan.values.push_back(std::move(d));
  }
  const Napi::Array ops = o.Get("ops").As<Napi::Array>();
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    const Napi::Object op = ops.Get(i).As<Napi::Object>();
    OpDesc d;
    d.kind = op.Get("kind").As<Napi::String>();
    d.label = op.Get("label").As<Napi::String>();
    const Napi::Array inputs = op.Get("inputs").As<Napi::Array>();
    for (uint32_t j = 0; j < inputs.Length(); ++j) d.inputs.push_back(static_cast<int32_t>(ToInt(inputs.Get(j))));
    const Napi::Array outputs = op.Get("outputs").As<Napi::Array>();
    for (uint32_t j = 0; j < outputs.Length(); ++j) d.outputs.push_back(static_cast<int32_t>(ToInt(outputs.Get(j))));
    const Napi::Object attrs = op.Get("attrs").As<Napi::Object>();
    const Napi::Array keys = attrs.GetPropertyNames();
    for (uint32_t j = 0; j < keys.Length(); ++j) {
      const std::string key = keys.Get(j).As<Napi::String>();
      d.attrs[key] = attrs.Get(key).As<Napi::Number>().DoubleValue();
    }
    plan.ops.push_back(std::move(d));
  }
  const Napi::Object outputs = o.Get("outputs").As<Napi::Object>();
  const Napi::Array names = outputs.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>();
    plan.outputs[name] = static_cast<int32_t>(ToInt(outputs.Get(name)));
  }
  const Napi::Array symbols = o.Get("symbols").As<Napi::Array>();
  const Napi::Array maxima = o.Get("symbolMax").As<Napi::Array>();
  for (uint32_t i = 0; i < symbols.Length(); ++i) {
    plan.symbols.push_back(symbols.Get(i).As<Napi::String>());
    plan.symbol_max.push_back(ToInt(maxima.Get(i)));
  }
  plan.arena_bytes = static_cast<uint64_t>(ToInt(o.Get("arenaBytes")));
  plan.input_bytes = static_cast<uint64_t>(ToInt(o.Get("inputBytes")));
  return plan;
}

/** Runs `work` on the thread pool and settles a promise: resolved by `done`, rejected with the error. */
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(done_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
};

class ExecutorWrap : public Napi::ObjectWrap<ExecutorWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Executor",
                       {InstanceMethod("setConstant", &ExecutorWrap::SetConstant), InstanceMethod("uploadWeight", &ExecutorWrap::UploadWeight),
                        InstanceMethod("fillWeight", &ExecutorWrap::FillWeight), InstanceMethod("loadFiles", &ExecutorWrap::LoadFiles),
                        InstanceMethod("uploadCompanion", &ExecutorWrap::UploadCompanion),
                        InstanceMethod("stageWeight", &ExecutorWrap::StageWeight),
                        InstanceMethod("quantizeWeight", &ExecutorWrap::QuantizeWeight),
                        InstanceMethod("run", &ExecutorWrap::Run), InstanceMethod("time", &ExecutorWrap::Time),
                        InstanceMethod("memory", &ExecutorWrap::Memory),
                        InstanceMethod("dispose", &ExecutorWrap::Dispose)});
  }

  explicit ExecutorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecutorWrap>(info) {
    try {
      executor_ = std::make_shared<Executor>(ParsePlan(info[0].As<Napi::Object>()));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }

 private:
  std::shared_ptr<Executor> live(const Napi::Env& env) {
    if (!executor_) throw Napi::Error::New(env, "the executor was disposed");
    return executor_;
  }

  Napi::Value SetConstant(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    const Napi::TypedArray data = info[1].As<Napi::TypedArray>();
    try {
      ex->set_constant(static_cast<int32_t>(ToInt(info[0])), static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset(),
                       data.ByteLength());
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value UploadWeight(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    const Napi::TypedArray data = info[2].As<Napi::TypedArray>();
    try {
      ex->upload_weight(static_cast<int32_t>(ToInt(info[0])), static_cast<DType>(ToInt(info[1])),
                        static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset(), data.ByteLength(),
                        static_cast<uint64_t>(ToInt(info[3])));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value FillWeight(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    try {
      ex->fill_weight(static_cast<int32_t>(ToInt(info[0])), static_cast<uint32_t>(ToInt(info[1])), info[2].As<Napi::Number>().FloatValue(),
                      info[3].As<Napi::Number>().FloatValue(), static_cast<uint64_t>(ToInt(info[4])), static_cast<uint64_t>(ToInt(info[5])));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value UploadCompanion(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    const Napi::Float32Array data = info[2].As<Napi::Float32Array>();
    try {
      ex->upload_companion(static_cast<int32_t>(ToInt(info[0])), static_cast<CompanionRole>(ToInt(info[1])), data.Data(), data.ElementLength());
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value StageWeight(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    try {
      ex->stage_weight(static_cast<int32_t>(ToInt(info[0])));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value QuantizeWeight(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    try {
      ex->quantize_weight(static_cast<int32_t>(ToInt(info[0])));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  /** loadFiles([{ value, path, offset, bytes, dtype, element }]) -> Promise<void> */
  Napi::Value LoadFiles(const Napi::CallbackInfo& info) {
    auto ex = live(info.Env());
    const Napi::Array list = info[0].As<Napi::Array>();
    std::vector<FileWeight> weights;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      const Napi::Object o = list.Get(i).As<Napi::Object>();
      weights.push_back(FileWeight{static_cast<int32_t>(ToInt(o.Get("value"))), o.Get("path").As<Napi::String>(),
                                   static_cast<uint64_t>(ToInt(o.Get("offset"))), static_cast<uint64_t>(ToInt(o.Get("bytes"))),
                                   static_cast<DType>(ToInt(o.Get("dtype"))), static_cast<uint64_t>(ToInt(o.Get("element")))});
    }
    auto* worker = new PromiseWorker(
        info.Env(), [ex, weights] { ex->load_files(weights); }, [](Napi::Env env) { return env.Undefined(); });
    worker->Queue();
    return worker->Promise();
  }

  /**
   * run(inputs: [valueId, TypedArray][], dims: number[], outputs: string[], graph: boolean)
   *   -> Promise<ArrayBuffer[]> (the outputs' bytes, in the order asked)
   * Inputs are copied into pinned staging now, on the JavaScript thread; the step runs on the pool.
   */
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ex = live(env);
    StageInputs(env, *ex, info[0].As<Napi::Array>());
    std::vector<int64_t> dims = Dims(info[1].As<Napi::Array>());
    std::vector<std::string> outputs;
    const Napi::Array outputList = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < outputList.Length(); ++i) outputs.push_back(outputList.Get(i).As<Napi::String>());
    const bool graph = info[3].As<Napi::Boolean>();
    auto results = std::make_shared<std::vector<std::vector<uint8_t>>>();
    auto* worker = new PromiseWorker(
        env, [ex, dims, outputs, graph, results] { *results = ex->run(dims, outputs, graph); },
        [results](Napi::Env env) {
          Napi::Array list = Napi::Array::New(env, results->size());
          for (size_t i = 0; i < results->size(); ++i) {
            const std::vector<uint8_t>& bytes = (*results)[i];
            Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes.size());
            if (!bytes.empty()) std::memcpy(buffer.Data(), bytes.data(), bytes.size());
            list.Set(static_cast<uint32_t>(i), buffer);
          }
          return list;
        });
    worker->Queue();
    return worker->Promise();
  }

  /** time(inputs, dims, iterations) -> Promise<number[]>: milliseconds per eager run. */
  Napi::Value Time(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ex = live(env);
    StageInputs(env, *ex, info[0].As<Napi::Array>());
    std::vector<int64_t> dims = Dims(info[1].As<Napi::Array>());
    const int iterations = static_cast<int>(ToInt(info[2]));
    auto results = std::make_shared<std::vector<float>>();
    auto* worker = new PromiseWorker(
        env, [ex, dims, iterations, results] { *results = ex->time(dims, iterations); },
        [results](Napi::Env env) {
          Napi::Array list = Napi::Array::New(env, results->size());
          for (size_t i = 0; i < results->size(); ++i) list.Set(static_cast<uint32_t>(i), (*results)[i]);
          return list;
        });
    worker->Queue();
    return worker->Promise();
  }

  static std::vector<int64_t> Dims(const Napi::Array& list) {
    std::vector<int64_t> dims;
    for (uint32_t i = 0; i < list.Length(); ++i) dims.push_back(ToInt(list.Get(i)));
    return dims;
  }

  /** Copies [valueId, TypedArray] pairs into the pinned input staging, checking each fits. */
  static void StageInputs(Napi::Env env, Executor& ex, const Napi::Array& inputs) {
    try {
      for (uint32_t i = 0; i < inputs.Length(); ++i) {
        const Napi::Array pair = inputs.Get(i).As<Napi::Array>();
        const int32_t id = static_cast<int32_t>(ToInt(pair.Get(0u)));
        const Napi::TypedArray data = pair.Get(1u).As<Napi::TypedArray>();
        const ValueDesc& v = ex.value(id);
        const size_t capacity = static_cast<size_t>(numel(v, ex.max_dims())) * dtype_bytes(v.dtype);
        if (data.ByteLength() > capacity) {
          throw std::runtime_error("input " + v.name + " has " + std::to_string(data.ByteLength()) + " bytes; at most " + std::to_string(capacity) +
                                   " fit");
        }
        std::memcpy(ex.host_input(id), static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset(), data.ByteLength());
      }
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    const MemoryStats m = live(info.Env())->memory();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("weights", static_cast<double>(m.weights));
    o.Set("state", static_cast<double>(m.state));
    o.Set("arena", static_cast<double>(m.arena));
    o.Set("workspace", static_cast<double>(m.workspace));
    o.Set("pinned", static_cast<double>(m.pinned));
    return o;
  }

  /** Frees the GPU memory now (a step in flight finishes first: it holds its own reference). */
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    executor_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Executor> executor_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("deviceInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return DeviceInfoObject(info.Env()); }));
  exports.Set("Executor", ExecutorWrap::Define(env));
  return exports;
}

}  // namespace
}  // namespace ignis

// NODE_API_MODULE pastes its argument into a name: it needs a plain identifier.
static Napi::Object InitIgnisCuda(Napi::Env env, Napi::Object exports) { return ignis::Init(env, exports); }

NODE_API_MODULE(ignis_cuda, InitIgnisCuda)
