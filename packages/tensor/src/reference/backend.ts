import type { Backend, Executable, LoadOptions, StepInputs, StepOutputs, WeightSource } from '../backend.js';
import type { Plan } from '../compile/compile.js';
import { viewData } from '../dtype.js';
import { type DimSizes, evalDim, evalNumel, formatShape } from '../graph/dims.js';
import type { Graph, OpKind, OpNode, Value } from '../graph/types.js';
import { type CompanionRole, scaleIndex, weightCompanions } from '../graph/weight-format.js';
import { assembleCompanion, assembleWeight, weightProblems } from '../weights/assemble.js';
import type { Kernel, KernelContext, KernelFactory } from './kernel.js';
import { pagedAttention, pagedAttentionQkv } from './kernels/attention.js';
import { add, siluMul, swiglu } from './kernels/elementwise.js';
import { embedding, gatherRows } from './kernels/gather.js';
import { linear } from './kernels/matmul.js';
import { addRmsnorm, rmsnorm } from './kernels/norm.js';
import { penalties } from './kernels/penalties.js';
import { quantizeRowsFp8 } from './kernels/quantize.js';
import { rope } from './kernels/rope.js';
import { sample } from './kernels/sample.js';
import { topLogprobs } from './kernels/top-logprobs.js';

const KERNELS: Readonly<Record<OpKind, KernelFactory>> = {
  embedding,
  rmsnorm,
  add_rmsnorm: addRmsnorm,
  add,
  linear,
  rope,
  paged_attention: pagedAttention,
  silu_mul: siluMul,
  gather_rows: gatherRows,
  sample,
  paged_attention_qkv: pagedAttentionQkv,
  swiglu,
  penalties,
  top_logprobs: topLogprobs,
};

/** Options of a {@link ReferenceBackend}. */
export interface ReferenceBackendOptions {
  /**
   * Milliseconds on a monotonic clock (default `performance.now`): how a step measures how long it
   * has held the event loop. Tests pass a fake one, so that when a step yields does not depend on
   * how busy the machine is.
   */
  readonly clock?: () => number;
}

/** Raised when a weight does not match what the plan expects. */
export class WeightMismatchError extends Error {
  override name = 'WeightMismatchError';
}

/**
 * The TypeScript reference backend: every op in plain loops over typed arrays, f32 activations,
 * weights upcast to f32 at load. Simple and obviously correct: the oracle for every other
 * backend, and the CPU fallback. Steps allocate nothing: kernels are bound to their buffers once.
 * A step runs on the calling thread but yields to the event loop between ops once it has held it
 * for {@link YIELD_AFTER_MS}, so that a server stays responsive while a long CPU step computes.
 */
export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly #clock: () => number;

  constructor(options: ReferenceBackendOptions = {}) {
    this.#clock = options.clock ?? (() => performance.now());
  }

  supportsOp(op: OpNode, plan: Graph): boolean {
    const activationsAreF32 = [...op.inputs, ...op.outputs].every((id) => {
      const v = plan.values[id]!;
      const fp8Cache = v.kind === 'state' && v.dtype === 'fp8e4m3'; // held decoded, in f32
      return v.kind === 'weight' || v.dtype === 'f32' || v.dtype === 'i32' || fp8Cache;
    });
    const weightsSupported = op.inputs.every((id) => {
      const v = plan.values[id]!;
      return v.kind !== 'weight' || !v.format || (op.op === 'linear' && id === op.inputs[1] && supportsFormat(v));
    });
    return op.op in KERNELS && activationsAreF32 && weightsSupported;
  }

  async load(plan: Plan, weights: WeightSource, options: LoadOptions): Promise<Executable> {
    const unsupported = plan.ops.filter((op) => !this.supportsOp(op, plan));
    if (unsupported.length > 0) {
      const list = unsupported.map((op) => `#${op.id} ${op.op}`).join(', ');
      throw new TypeError(`reference backend: unsupported ops (it computes in f32 only; KV caches f32 or fp8e4m3): ${list}`);
    }
    const problems = weightProblems(plan.values, weights);
    if (problems.length > 0) throw new WeightMismatchError(`the weights do not match the plan:\n  ${problems.slice(0, 10).join('\n  ')}`);
    const storage = new Map<number, Float32Array | Int32Array>();
    const companions = new Map<string, Float32Array>();
    const arena = new ArrayBuffer(plan.memory.arenaBytes);
    for (const value of plan.values) {
      if (value.kind === 'weight') storage.set(value.id, await loadWeight(value, weights, companions));
      else storage.set(value.id, allocate(value, plan, arena, options.loadDims));
    }
    const lookup = (id: number): Float32Array | Int32Array => storage.get(id)!;
    const companion = (id: number, role: CompanionRole): Float32Array => {
      const found = companions.get(`${id}:${role}`);
      if (!found) throw new TypeError(`weight ${plan.values[id]!.name} has no ${role}`);
      return found;
    };
    const dequantized = new Map<number, Float32Array>();
    const kernels: Kernel[] = plan.ops.map((op) => {
      const ctx: KernelContext = {
        op,
        plan,
        loadDims: options.loadDims,
        f32: (id) => expectArray(lookup(id), Float32Array, op, plan.values[id]!),
        i32: (id) => expectArray(lookup(id), Int32Array, op, plan.values[id]!),
        companion,
        dequantized: (id) => {
          if (!dequantized.has(id)) dequantized.set(id, dequantize(plan.values[id]!, lookup(id) as Float32Array, companion(id, 'weight_scale')));
          return dequantized.get(id)!;
        },
      };
      return KERNELS[op.op](ctx);
    });
    return new ReferenceExecutable(plan, storage, kernels, this.#clock);
  }
}

/** How long a step may hold the event loop before it yields (between two ops). */
export const YIELD_AFTER_MS = 20;

class ReferenceExecutable implements Executable {
  private disposed = false;
  /** Steps run one at a time, in call order: they share the plan's buffers, and a step can yield. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly plan: Plan,
    private readonly storage: Map<number, Float32Array | Int32Array>,
    private readonly kernels: readonly Kernel[],
    private readonly clock: () => number,
  ) {}

  run(step: StepInputs, outputs?: readonly string[]): Promise<StepOutputs> {
    const result = this.queue.then(() => this.runNow(step, outputs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(step: StepInputs, wanted?: readonly string[]): Promise<StepOutputs> {
    this.checkLive();
    checkDims(this.plan, step.dims);
    for (const value of this.plan.values) {
      if (value.kind !== 'input') continue;
      const given = step.inputs[value.name];
      const n = evalNumel(value.shape, step.dims);
      if (!given) throw new TypeError(`step input ${value.name} is missing`);
      if (given.length !== n) {
        throw new RangeError(`step input ${value.name} has ${given.length} elements; ${formatShape(value.shape)} needs ${n}`);
      }
      this.storage.get(value.id)!.set(given);
    }
    let heldSince = this.clock();
    for (const kernel of this.kernels) {
      kernel(step.dims);
      if (this.clock() - heldSince > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.checkLive();
        heldSince = this.clock();
      }
    }
    const outputs: StepOutputs = {};
    for (const name of wanted ?? Object.keys(this.plan.outputs)) {
      const id = this.plan.outputs[name];
      if (id === undefined) throw new RangeError(`the plan has no output ${name}`);
      const value = this.plan.values[id]!;
      const shape = value.shape.map((d) => evalDim(d, step.dims));
      const data = this.storage.get(id)!;
      outputs[name] = { shape, data: data.subarray(0, evalNumel(value.shape, step.dims)) };
    }
    return outputs;
  }

  dispose(): void {
    this.disposed = true;
    this.storage.clear();
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('reference backend: executable used after dispose()');
  }
}

function checkDims(plan: Plan, dims: DimSizes): void {
  for (const [name, max] of Object.entries(plan.maxDims)) {
    const size = dims[name];
    if (size === undefined || !Number.isInteger(size) || size < 0 || size > max) {
      throw new RangeError(`step dimension ${name} = ${String(size)} is outside [0, ${max}] of the compiled plan`);
    }
  }
}

function allocate(value: Value, plan: Plan, arena: ArrayBuffer, loadDims: DimSizes): Float32Array | Int32Array {
  const numeric = value.dtype === 'i32' ? 'i32' : 'f32';
  switch (value.kind) {
    case 'constant':
      return numeric === 'i32' ? Int32Array.from(value.data!) : Float32Array.from(value.data!);
    case 'state':
      return new Float32Array(evalNumel(value.shape, { ...plan.maxDims, ...loadDims }));
    default: {
      const slot = plan.memory.slots[value.id]!;
      return viewData(numeric, arena, slot.offset, evalNumel(value.shape, plan.maxDims));
    }
  }
}

/** The formats the reference backend executes: FP8 (e4m3) weights with channel or block scales. */
function supportsFormat(weight: Value): boolean {
  const format = weight.format!;
  if (weight.dtype !== 'fp8e4m3' || format.scale.kind === 'group') return false;
  if (format.quantizeFrom && (format.scale.kind !== 'channel' || !['f32', 'f16', 'bf16'].includes(format.quantizeFrom))) return false;
  return format.activation !== 'fp8-token-group' || format.scale.kind === 'block';
}

/**
 * A weight's stored values as f32 (the codes' values for a quantized one), assembled from its
 * slices; its companions go to `companions`. A weight quantized at load is assembled in float,
 * then quantized per output row as the CUDA backend does.
 */
async function loadWeight(value: Value, weights: WeightSource, companions: Map<string, Float32Array>): Promise<Float32Array> {
  const out = new Float32Array(evalNumel(value.shape, {}));
  const read = (name: string): ReturnType<WeightSource['read']> => weights.read(name);
  await assembleWeight(value, read, out);
  if (value.format?.quantizeFrom) {
    const [rows, cols] = value.shape as [number, number];
    const scales = new Float32Array(rows);
    quantizeRowsFp8(out, rows, cols, cols, out, scales);
    companions.set(`${value.id}:weight_scale`, scales);
    return out;
  }
  for (const companion of weightCompanions(value)) {
    companions.set(`${value.id}:${companion.role}`, await assembleCompanion(value, companion.role, read));
  }
  return out;
}

/** Stored values times their scales, for weight-only formats. */
function dequantize(value: Value, stored: Float32Array, scales: Float32Array): Float32Array {
  const [rows, cols] = value.shape as [number, number];
  const scale = value.format!.scale;
  const out = new Float32Array(stored.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = Math.fround(stored[r * cols + c]! * scales[scaleIndex(scale, cols, r, c)]!);
    }
  }
  return out;
}

/** Throws a {@link WeightMismatchError} unless `weights` has `name` with `shape`. */
export function checkWeight(weights: WeightSource, name: string, shape: readonly number[]): void {
  const info = weights.info(name);
  if (!info) throw new WeightMismatchError(`weight ${name} is missing`);
  if (formatShape(info.shape) !== formatShape(shape)) {
    throw new WeightMismatchError(`weight ${name} has shape ${formatShape(info.shape)}, expected ${formatShape(shape)}`);
  }
}

function expectArray<T extends Float32Array | Int32Array>(
  array: Float32Array | Int32Array,
  kind: new (n: number) => T,
  op: OpNode,
  value: Value,
): T {
  if (!(array instanceof kind)) throw new TypeError(`${op.op}: ${value.name} is ${value.dtype}, expected ${kind.name}`);
  return array;
}
