import type { Plan } from '../compile/compile.js';
import { type DimSizes, evalDim } from '../graph/dims.js';
import type { OpNode } from '../graph/types.js';
import type { CompanionRole } from '../graph/weight-format.js';

/** What a reference kernel sees when it is bound to one op of a loaded plan. */
export interface KernelContext {
  readonly op: OpNode;
  readonly plan: Plan;
  /** The f32 storage of value `id` (sized for the largest step). */
  f32(id: number): Float32Array;
  /** The i32 storage of value `id` (sized for the largest step). */
  i32(id: number): Int32Array;
  /** Sizes fixed at load time (e.g. `NB`). */
  readonly loadDims: DimSizes;
  /** A companion tensor (scales) of quantized weight `id`. */
  companion(id: number, role: CompanionRole): Float32Array;
  /** The real values of quantized weight `id` (stored values times their scales), computed once. */
  dequantized(id: number): Float32Array;
}

/** One op bound to its buffers; runs it for a step of the given sizes. */
export type Kernel = (dims: DimSizes) => void;

/** Binds an op to its buffers once, at load time, so that steps allocate nothing. */
export type KernelFactory = (ctx: KernelContext) => Kernel;

/** Size of dimension `axis` of value `id` for this step. */
export function dimOf(ctx: KernelContext, id: number, axis: number, dims: DimSizes): number {
  return evalDim(ctx.plan.values[id]!.shape[axis]!, dims);
}

/** Size of a fixed dimension (weights, attributes' widths), checked once at bind time. */
export function fixedDim(ctx: KernelContext, id: number, axis: number): number {
  const d = ctx.plan.values[id]!.shape[axis];
  if (typeof d !== 'number') throw new TypeError(`${ctx.op.op}: dimension ${axis} of ${ctx.plan.values[id]!.name} must be fixed`);
  return d;
}
