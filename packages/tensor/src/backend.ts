import type { Plan } from './compile/compile.js';
import type { DType } from './dtype.js';
import type { DimSizes } from './graph/dims.js';
import type { Graph, OpNode } from './graph/types.js';
import type { Tensor } from './tensor.js';

/** Where a tensor's bytes lie in a file (safetensors data is raw little-endian). */
export interface FileRange {
  readonly file: string;
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly dtype: DType;
}

/**
 * How to make a synthetic tensor instead of reading one: element i is
 * `offset + scale * u(seed, i)`, u uniform in [-1, 1) (see `syntheticValue`).
 */
export interface SyntheticFill {
  readonly seed: number;
  readonly scale: number;
  readonly offset: number;
}

/** Where a backend gets its weights: by name, metadata first, data on demand. */
export interface WeightSource {
  /** dtype and shape of a tensor, or undefined if there is none by that name. */
  info(name: string): { readonly dtype: DType; readonly shape: readonly number[] } | undefined;
  /** Reads one tensor's data. */
  read(name: string): Promise<Tensor>;
  /** Optional: the file range holding the tensor, so that a native backend can read it directly. */
  fileRange?(name: string): FileRange | undefined;
  /** Optional: how to fill the tensor on the device, for synthetic (random) weights. */
  synthetic?(name: string): SyntheticFill | undefined;
}

/** Sizes fixed when a plan is loaded (e.g. `NB`, the number of KV-cache blocks). */
export interface LoadOptions {
  readonly loadDims: DimSizes;
}

/** One step's per-step data: the symbolic sizes and every input by name. */
export interface StepInputs {
  readonly dims: DimSizes;
  readonly inputs: Readonly<Record<string, Int32Array | Float32Array | Uint16Array>>;
  /**
   * A hint that steps of exactly these dims recur and launch the same work (decode steps padded
   * to a batch bucket): a backend may capture and replay them (CUDA graphs). Host-side bounds
   * must then come from the dims alone.
   */
  readonly graph?: boolean;
}

/** One step's outputs by name, with their actual shapes (i32 outputs as Int32Array, float ones as Float32Array). */
export type StepOutputs = Record<string, { readonly shape: readonly number[]; readonly data: Float32Array | Int32Array }>;

/** A plan loaded on a backend, with its weights and state. */
export interface Executable {
  /**
   * Runs one whole step and returns the outputs named in `outputs` (default: all). The outputs'
   * data may be views into backend memory that the next `run` overwrites: copy what must
   * outlive the step.
   */
  run(step: StepInputs, outputs?: readonly string[]): Promise<StepOutputs>;
  /** Releases memory; the executable cannot run afterwards. */
  dispose(): void;
}

/** Something that executes plans. */
export interface Backend {
  readonly name: string;
  /**
   * Whether this backend implements `op` as it appears in `graph` (a compiled plan, or a graph a
   * pass is rewriting): dtypes and weight formats included.
   */
  supportsOp(op: OpNode, graph: Graph): boolean;
  /** Loads weights and allocates memory for `plan`. */
  load(plan: Plan, weights: WeightSource, options: LoadOptions): Promise<Executable>;
}
