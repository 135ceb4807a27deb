import type { DType } from '../dtype.js';

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
   * For weights made by fusion passes: this weight is the row-wise concatenation of these
   * checkpoint tensors (each `rows` rows of the weight's row width; 1-D tensors for biases).
   */
  readonly parts?: readonly WeightPart[];
}

/** One checkpoint tensor inside a fused weight. */
export interface WeightPart {
  readonly name: string;
  readonly rows: number;
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
