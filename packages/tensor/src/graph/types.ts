import type { DType } from '../dtype.js';
import type { WeightFormat } from './weight-format.js';

/**
 * A dimension: a fixed size, or the name of a symbolic size fixed per step (such as `T`, the
 * tokens in this step) or per load (such as `NB`, the KV-cache blocks).
 */
export type Dim = number | string;

/** A shape whose dimensions may be symbolic. */
export type Shape = readonly Dim[];

/**
 * What a value is:
 * - `input`: supplied by the caller each step (token ids, positions, attention metadata);
 * - `weight`: a model parameter, loaded once by name;
 * - `constant`: data computed when the graph is built (e.g. rotary inverse frequencies);
 * - `state`: owned by the backend and kept across steps (the KV cache);
 * - `activation`: produced by an op, lives in the step's memory plan.
 */
export type ValueKind = 'input' | 'weight' | 'constant' | 'state' | 'activation';

/** One value in a graph. Values are immutable once made; ops produce new ones. */
export interface Value {
  readonly id: number;
  readonly name: string;
  readonly kind: ValueKind;
  readonly dtype: DType;
  readonly shape: Shape;
  /** For constants only: the data, in the value's dtype, row-major. */
  readonly data?: readonly number[];
  /**
   * For weights assembled from checkpoint tensors (fused q/k/v and gate/up projections,
   * tensor-parallel shards): the regions of them it is made of. Absent: the checkpoint tensor
   * named `name`, whole.
   */
  readonly slices?: readonly WeightSlice[];
  /** For quantized weights: how the stored elements (of `dtype`) map to real values. */
  readonly format?: WeightFormat;
}

/**
 * A checkpoint tensor, or a region of it, placed into a weight: rows [rows[0], rows[1]) and
 * columns [cols[0], cols[1]) of the source land with their first element at row `at[0]`, column
 * `at[1]` of the weight. 1-D tensors (biases) have rows only and `at[1]` 0.
 */
export interface WeightSlice {
  /** The checkpoint tensor. */
  readonly name: string;
  /** Its full shape in the checkpoint. */
  readonly shape: readonly number[];
  /** Rows taken (default: all). */
  readonly rows?: readonly [number, number];
  /** Columns taken (2-D tensors; default: all). */
  readonly cols?: readonly [number, number];
  readonly at: readonly [number, number];
}

/** One operation. `inputs` and `outputs` hold value ids. */
export interface OpNode {
  readonly id: number;
  readonly op: OpKind;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/** Attribute values are plain data, so that graphs and plans can be printed and saved. */
export type AttrValue = number | string | boolean | null | readonly number[];

/** The operations of the IR. See `OP_DEFS` for each one's contract. */
export type OpKind =
  | 'embedding'
  | 'rmsnorm'
  | 'add_rmsnorm'
  | 'add'
  | 'linear'
  | 'rope'
  | 'paged_attention'
  | 'silu_mul'
  | 'gather_rows'
  | 'sample'
  | 'paged_attention_qkv'
  | 'swiglu'
  | 'penalties'
  | 'top_logprobs';

/** A whole graph: values by id, ops in execution order, named outputs. */
export interface Graph {
  readonly name: string;
  readonly values: readonly Value[];
  readonly ops: readonly OpNode[];
  /** Output name -> value id. */
  readonly outputs: Readonly<Record<string, number>>;
}
