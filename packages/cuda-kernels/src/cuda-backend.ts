import {
  type Backend,
  type Dim,
  type Executable,
  type Graph,
  type LoadOptions,
  type OpKind,
  type OpNode,
  type Plan,
  type StepInputs,
  type StepOutputs,
  type Value,
  type WeightSource,
  WeightMismatchError,
  assembleCompanion,
  decodeToF32,
  evalDim,
  evalNumel,
  formatShape,
  weightCompanions,
  weightProblems,
  weightSlices,
} from '@ignis/tensor';
import {
  ACTIVATION_KINDS,
  COMPANION_ROLES,
  type FlatPlan,
  type FlatWeightFormat,
  NATIVE_DTYPES,
  NATIVE_VALUE_KINDS,
  type NativeDeviceInfo,
  type NativeExecutor,
  SCALE_KINDS,
  loadAddon,
} from './native.js';

/** The CUDA backend cannot be used here; the message lists every cause and what to do. */
export class CudaUnavailableError extends Error {
  override name = 'CudaUnavailableError';
}

/** Whether the CUDA backend can run here, and if not, why (one line). */
export interface CudaProbe {
  readonly available: boolean;
  readonly reason: string;
  readonly device: NativeDeviceInfo | undefined;
}

/** Looks for the addon and a usable GPU, without throwing. */
export function probeCuda(): CudaProbe {
  const { addon, problems } = loadAddon();
  if (!addon) return { available: false, reason: `the CUDA addon could not be loaded (${problems.join('; ')})`, device: undefined };
  const device = addon.deviceInfo();
  if (!device.available) return { available: false, reason: device.reason ?? 'no usable GPU', device };
  return { available: true, reason: `${device.name} (sm_${device.computeCapability?.replace('.', '')})`, device };
}

const SUPPORTED_OPS: ReadonlySet<OpKind> = new Set([
  'paged_attention_qkv',
  'swiglu',
  'penalties',
  'top_logprobs',
  'embedding',
  'rmsnorm',
  'add_rmsnorm',
  'add',
  'linear',
  'rope',
  'paged_attention',
  'silu_mul',
  'gather_rows',
  'sample',
]);

/**
 * Runs plans on an NVIDIA GPU through the native addon: activations in f32 (exact) or bf16
 * (fast), weights stored in the activation dtype (converted on the device at load), KV caches in
 * the activation dtype or fp8e4m3, one native call per step, CUDA graphs for steps marked `graph`.
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly device: NativeDeviceInfo;

  constructor() {
    const probe = probeCuda();
    if (!probe.available || !probe.device) throw new CudaUnavailableError(`the CUDA backend is not available: ${probe.reason}`);
    this.device = probe.device;
  }

  supportsOp(op: OpNode, plan: Graph): boolean {
    if (!SUPPORTED_OPS.has(op.op)) return false;
    return [...op.inputs, ...op.outputs].every((id) => {
      const v = plan.values[id]!;
      if (v.format) return op.op === 'linear' && id === op.inputs[1] && supportsFormat(v);
      const fp8Cache = v.kind === 'state' && v.dtype === 'fp8e4m3'; // an attention op's KV cache
      return v.dtype === 'f32' || v.dtype === 'bf16' || v.dtype === 'i32' || fp8Cache;
    });
  }

  /** Free and total device memory now, in bytes. */
  memoryInfo(): { free: number; total: number } {
    const info = loadAddon().addon!.deviceInfo();
    return { free: info.freeMemory ?? 0, total: info.totalMemory ?? 0 };
  }

  async load(plan: Plan, weights: WeightSource, options: LoadOptions): Promise<Executable> {
    const unsupported = plan.ops.filter((op) => !this.supportsOp(op, plan));
    if (unsupported.length > 0) {
      throw new TypeError(`CUDA backend: unsupported ops (f32/bf16 activations only): ${unsupported.map((op) => `#${op.id} ${op.op}`).join(', ')}`);
    }
    const flat = flattenPlan(plan, options.loadDims);
    const native = new (loadAddon().addon!.Executor)(flat);
    try {
      await loadValues(plan, weights, native);
    } catch (error) {
      native.dispose();
      throw error;
    }
    return new CudaExecutable(plan, flat, native);
  }
}

/**
 * FP8 (e4m3) W8A8 with channel scales and per-token or static activations; weights quantized at
 * load come from f32, f16 or bf16. Block scales wait for a kernel (cuBLASLt's block modes are
 * not used yet): the quantization pass picks channel scales for this backend.
 */
function supportsFormat(weight: Value): boolean {
  const f = weight.format!;
  const from = f.quantizeFrom;
  return weight.dtype === 'fp8e4m3' && f.scale.kind === 'channel' && (f.activation === 'fp8-token' || f.activation === 'fp8-static') && (from === undefined || from === 'f32' || from === 'f16' || from === 'bf16');
}

/**
 * Uploads constants and weights, slice by slice: whole-row file ranges natively, synthetic
 * tensors filled on the device, anything else read here and uploaded row by row. Quantized
 * weights get their companions (scales); weights quantized at load are staged in float and
 * quantized on the device as soon as they are complete.
 */
async function loadValues(plan: Plan, weights: WeightSource, native: NativeExecutor): Promise<void> {
  const problems = weightProblems(plan.values, weights);
  if (problems.length > 0) throw new WeightMismatchError(`the weights do not match the plan:\n  ${problems.slice(0, 10).join('\n  ')}`);
  const files: Parameters<NativeExecutor['loadFiles']>[0] = [];
  for (const value of plan.values) {
    if (value.kind === 'constant') {
      native.setConstant(value.id, value.dtype === 'i32' ? Int32Array.from(value.data!) : Float32Array.from(value.data!));
      continue;
    }
    if (value.kind !== 'weight') continue;
    const quantizeAtLoad = value.format?.quantizeFrom !== undefined;
    if (quantizeAtLoad) native.stageWeight(value.id);
    const ranges = await loadSlices(value, weights, native);
    if (quantizeAtLoad) {
      if (ranges.length > 0) await native.loadFiles(ranges);
      native.quantizeWeight(value.id);
      continue;
    }
    files.push(...ranges);
    for (const companion of weightCompanions(value)) {
      const data = await assembleCompanion(value, companion.role, (name) => weights.read(name));
      native.uploadCompanion(value.id, COMPANION_ROLES.indexOf(companion.role), data);
    }
  }
  if (files.length > 0) await native.loadFiles(files);
}

/** Loads a weight's slices that need no file reading now, and returns the file ranges of the others. */
async function loadSlices(value: Value, weights: WeightSource, native: NativeExecutor): Promise<Parameters<NativeExecutor['loadFiles']>[0]> {
  const ranges: Parameters<NativeExecutor['loadFiles']>[0] = [];
  const width = value.shape.length === 2 ? (value.shape[1] as number) : 1;
  for (const slice of weightSlices(value)) {
    const sourceWidth = slice.shape.length === 2 ? slice.shape[1]! : 1;
    const whole = slice.rows[0] === 0 && slice.rows[1] === slice.shape[0] && slice.cols[1] - slice.cols[0] === sourceWidth;
    const wholeRows = slice.cols[0] === 0 && slice.cols[1] === sourceWidth && sourceWidth === width && slice.at[1] === 0;
    const element = slice.at[0] * width + slice.at[1];
    const fill = whole && wholeRows ? weights.synthetic?.(slice.name) : undefined;
    const range = wholeRows ? weights.fileRange?.(slice.name) : undefined;
    if (fill) {
      native.fillWeight(value.id, fill.seed >>> 0, fill.scale, fill.offset, element, slice.shape.reduce((a, b) => a * b, 1));
    } else if (range) {
      const rowBytes = (range.byteLength / slice.shape[0]!) | 0;
      const bytes = (slice.rows[1] - slice.rows[0]) * rowBytes;
      ranges.push({ value: value.id, path: range.file, offset: range.byteOffset + slice.rows[0] * rowBytes, bytes, dtype: NATIVE_DTYPES[range.dtype], element });
    } else {
      const tensor = await weights.read(slice.name);
      const elementBytes = tensor.data.BYTES_PER_ELEMENT;
      for (let r = slice.rows[0]; r < slice.rows[1]; r++) {
        const from = (r * sourceWidth + slice.cols[0]) * elementBytes;
        const row = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset + from, (slice.cols[1] - slice.cols[0]) * elementBytes);
        native.uploadWeight(value.id, NATIVE_DTYPES[tensor.dtype], row, (slice.at[0] + r - slice.rows[0]) * width + slice.at[1]);
      }
    }
  }
  return ranges;
}

/** The plan as the native executor reads it: numeric kinds, dtypes and dims; numeric attributes only. */
export function flattenPlan(plan: Plan, loadDims: Readonly<Record<string, number>>): FlatPlan {
  const symbols = [...Object.keys(plan.maxDims), ...plan.loadDims];
  const symbolMax = symbols.map((s) => {
    const size = plan.maxDims[s] ?? loadDims[s];
    if (size === undefined) throw new RangeError(`load-time dimension ${s} needs a size`);
    return size;
  });
  const encode = (dim: Dim): [number, number] => {
    if (typeof dim === 'number') return [-1, dim];
    const [name, add] = dim.split('+');
    return [symbols.indexOf(name!), add ? Number(add) : 0];
  };
  let inputBytes = 0;
  for (const value of plan.values) {
    const slot = plan.memory.slots[value.id];
    if (value.kind === 'input' && slot) inputBytes = Math.max(inputBytes, slot.offset + slot.bytes);
  }
  return {
    values: plan.values.map((v) => ({
      name: v.name,
      kind: NATIVE_VALUE_KINDS[v.kind],
      dtype: NATIVE_DTYPES[v.dtype],
      shape: v.shape.map(encode),
      offset: plan.memory.slots[v.id]?.offset ?? -1,
      ...(v.format ? { format: flattenFormat(v) } : {}),
    })),
    ops: plan.ops.map((op) => ({
      kind: op.op,
      label: plan.values[op.outputs[0]!]!.name,
      inputs: [...op.inputs],
      outputs: [...op.outputs],
      attrs: Object.fromEntries(
        Object.entries(op.attrs).flatMap(([k, v]) => (typeof v === 'number' ? [[k, v]] : v === null ? [[k, 0]] : typeof v === 'boolean' ? [[k, v ? 1 : 0]] : [])),
      ),
    })),
    outputs: { ...plan.outputs },
    symbols,
    symbolMax,
    arenaBytes: plan.memory.arenaBytes,
    inputBytes,
  };
}

/** A weight's format as the native executor reads it. */
function flattenFormat(value: Value): FlatWeightFormat {
  const format = value.format!;
  const scale = format.scale;
  const [tileRows, tileCols] = scale.kind === 'block' ? [scale.rows, scale.cols] : scale.kind === 'group' ? [1, scale.size] : [0, 0];
  return {
    scaleKind: SCALE_KINDS.indexOf(scale.kind),
    tileRows,
    tileCols,
    activation: ACTIVATION_KINDS.indexOf(format.activation),
    ...(format.quantizeFrom ? { quantizeFrom: NATIVE_DTYPES[format.quantizeFrom] } : {}),
    companions: weightCompanions(value).map((c) => c.shape.reduce((a, b) => a * b, 1)),
  };
}

/** A plan loaded on the GPU. Steps run one at a time, in call order (inputs are staged in pinned memory that a running step reads). */
export class CudaExecutable implements Executable {
  private native: NativeExecutor | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inputs: { id: number; name: string; shape: readonly Dim[] }[];

  constructor(
    private readonly plan: Plan,
    private readonly flat: FlatPlan,
    native: NativeExecutor,
  ) {
    this.native = native;
    this.inputs = plan.values.filter((v) => v.kind === 'input').map((v) => ({ id: v.id, name: v.name, shape: v.shape }));
  }

  /** Device memory this executable holds. */
  memory(): ReturnType<NativeExecutor['memory']> {
    return this.live().memory();
  }

  run(step: StepInputs, outputs?: readonly string[]): Promise<StepOutputs> {
    return this.serialize(() => this.runNow(step, outputs));
  }

  /** Milliseconds per eager run of `step` (after a warm-up), timed on the device with CUDA events. */
  time(step: StepInputs, iterations: number): Promise<number[]> {
    return this.serialize(() => this.live().time(this.stage(step), this.dims(step), iterations));
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private stage(step: StepInputs): [number, ArrayBufferView][] {
    return this.inputs.map(({ id, name, shape }) => {
      const data = step.inputs[name];
      if (!data) throw new TypeError(`step input ${name} is missing`);
      const n = evalNumel(shape, step.dims);
      if (data.length !== n) throw new RangeError(`step input ${name} has ${data.length} elements; ${formatShape(shape)} needs ${n}`);
      return [id, data];
    });
  }

  private dims(step: StepInputs): number[] {
    return this.flat.symbols.map((s, i) => step.dims[s] ?? this.flat.symbolMax[i]!);
  }

  private async runNow(step: StepInputs, outputs?: readonly string[]): Promise<StepOutputs> {
    const native = this.live();
    const names = outputs ?? Object.keys(this.plan.outputs);
    const buffers = await native.run(this.stage(step), this.dims(step), [...names], step.graph ?? false);
    const result: StepOutputs = {};
    names.forEach((name, i) => {
      const value = this.plan.values[this.plan.outputs[name]!]!;
      const buffer = buffers[i]!;
      const shape = value.shape.map((d) => evalDim(d, step.dims));
      const data =
        value.dtype === 'i32'
          ? new Int32Array(buffer)
          : value.dtype === 'f32'
            ? new Float32Array(buffer)
            : decodeToF32(new Uint16Array(buffer), value.dtype);
      result[name] = { shape, data };
    });
    return result;
  }

  dispose(): void {
    this.native?.dispose();
    this.native = undefined;
  }

  private live(): NativeExecutor {
    if (!this.native) throw new Error('CUDA executable used after dispose()');
    return this.native;
  }
}
