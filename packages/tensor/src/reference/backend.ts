import type { Backend, Executable, LoadOptions, StepInputs, StepOutputs, WeightSource } from '../backend.js';
import type { Plan } from '../compile/compile.js';
import { decodeToF32, viewData } from '../dtype.js';
import { type DimSizes, evalDim, evalNumel, formatShape } from '../graph/dims.js';
import type { OpKind, OpNode, Value } from '../graph/types.js';
import type { Kernel, KernelContext, KernelFactory } from './kernel.js';
import { pagedAttention, pagedAttentionQkv } from './kernels/attention.js';
import { add, siluMul, swiglu } from './kernels/elementwise.js';
import { embedding, gatherRows } from './kernels/gather.js';
import { linear } from './kernels/matmul.js';
import { addRmsnorm, rmsnorm } from './kernels/norm.js';
import { penalties } from './kernels/penalties.js';
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

  supportsOp(op: OpNode, plan: Plan): boolean {
    const activationsAreF32 = [...op.inputs, ...op.outputs].every((id) => {
      const v = plan.values[id]!;
      const fp8Cache = v.kind === 'state' && v.dtype === 'fp8e4m3'; // held decoded, in f32
      return v.kind === 'weight' || v.dtype === 'f32' || v.dtype === 'i32' || fp8Cache;
    });
    return op.op in KERNELS && activationsAreF32;
  }

  async load(plan: Plan, weights: WeightSource, options: LoadOptions): Promise<Executable> {
    const unsupported = plan.ops.filter((op) => !this.supportsOp(op, plan));
    if (unsupported.length > 0) {
      const list = unsupported.map((op) => `#${op.id} ${op.op}`).join(', ');
      throw new TypeError(`reference backend: unsupported ops (it computes in f32 only; KV caches f32 or fp8e4m3): ${list}`);
    }
    const storage = new Map<number, Float32Array | Int32Array>();
    const arena = new ArrayBuffer(plan.memory.arenaBytes);
    for (const value of plan.values) {
      storage.set(value.id, await allocate(value, plan, arena, weights, options.loadDims));
    }
    const lookup = (id: number): Float32Array | Int32Array => storage.get(id)!;
    const kernels: Kernel[] = plan.ops.map((op) => {
      const ctx: KernelContext = {
        op,
        plan,
        loadDims: options.loadDims,
        f32: (id) => expectArray(lookup(id), Float32Array, op, plan.values[id]!),
        i32: (id) => expectArray(lookup(id), Int32Array, op, plan.values[id]!),
      };
      return KERNELS[op.op](ctx);
    });
    return new ReferenceExecutable(plan, storage, kernels);
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
    let heldSince = performance.now();
    for (const kernel of this.kernels) {
      kernel(step.dims);
      if (performance.now() - heldSince > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.checkLive();
        heldSince = performance.now();
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

async function allocate(
  value: Value,
  plan: Plan,
  arena: ArrayBuffer,
  weights: WeightSource,
  loadDims: DimSizes,
): Promise<Float32Array | Int32Array> {
  const numeric = value.dtype === 'i32' ? 'i32' : 'f32';
  switch (value.kind) {
    case 'input':
    case 'activation': {
      const slot = plan.memory.slots[value.id]!;
      return viewData(numeric, arena, slot.offset, evalNumel(value.shape, plan.maxDims));
    }
    case 'constant':
      return numeric === 'i32' ? Int32Array.from(value.data!) : Float32Array.from(value.data!);
    case 'state':
      return new Float32Array(evalNumel(value.shape, { ...plan.maxDims, ...loadDims }));
    case 'weight': {
      // A fused weight is its parts stacked row-wise; a plain one is a part of its own.
      const out = new Float32Array(evalNumel(value.shape, {}));
      let offset = 0;
      for (const part of weightParts(value)) {
        checkWeight(weights, part.name, part.shape);
        const tensor = await weights.read(part.name);
        decodeToF32(tensor.data, tensor.dtype, out.subarray(offset, offset + tensor.numel));
        offset += tensor.numel;
      }
      return out;
    }
  }
}

/** The checkpoint tensors a weight value is made of, with their shapes. */
export function weightParts(value: Value): { name: string; shape: number[]; offset: number }[] {
  const shape = value.shape as number[];
  if (!value.parts) return [{ name: value.name, shape, offset: 0 }];
  const rowWidth = shape.length === 2 ? shape[1]! : 1;
  let row = 0;
  return value.parts.map((part) => {
    const offset = row * rowWidth;
    row += part.rows;
    return { name: part.name, shape: shape.length === 2 ? [part.rows, rowWidth] : [part.rows], offset };
  });
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
