import type { DType } from '../dtype.js';
import { symbolsOf } from './dims.js';
import { GraphError, OP_DEFS, requiredInputs } from './ops.js';
import type { AttrValue, Graph, OpKind, OpNode, Shape, Value, ValueKind } from './types.js';

/** Attributes of the attention ops (see `OP_DEFS.paged_attention`). */
export interface AttentionAttrs {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Multiplies the scores q.k. */
  readonly scale: number;
  /** Keys a query attends at most (its own included); null: no window. */
  readonly slidingWindow: number | null;
  /** Scale of an fp8e4m3 k_cache: it stores e4m3(k / kScale). Default 1. */
  readonly kScale?: number;
  /** Scale of an fp8e4m3 v_cache: it stores e4m3(v / vScale). Default 1. */
  readonly vScale?: number;
}

/**
 * Builds a graph op by op. Each method checks its operands against the op's contract and
 * returns the new value, so that a model builder reads like the forward pass it describes.
 */
export class GraphBuilder {
  private readonly values: Value[] = [];
  private readonly ops: OpNode[] = [];
  private readonly outputs: Record<string, number> = {};
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** A value the caller supplies each step. */
  input(name: string, dtype: DType, shape: Shape): Value {
    return this.addValue(name, 'input', dtype, shape);
  }

  /** A model parameter, loaded by `name`. */
  weight(name: string, dtype: DType, shape: Shape): Value {
    for (const d of shape) {
      if (typeof d !== 'number') throw new GraphError(`weight ${name} has symbolic dimension ${d}; weights are fixed-size`);
    }
    return this.addValue(name, 'weight', dtype, shape);
  }

  /** Data fixed when the graph is built. */
  constant(name: string, dtype: DType, shape: readonly number[], data: readonly number[]): Value {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new GraphError(`constant ${name}: shape needs ${expected} values, got ${data.length}`);
    return this.addValue(name, 'constant', dtype, shape, [...data]);
  }

  /** Backend-owned data kept across steps (the KV cache), sized at load time. */
  state(name: string, dtype: DType, shape: Shape): Value {
    return this.addValue(name, 'state', dtype, shape);
  }

  /** Marks `value` as a graph output under `name`. */
  output(name: string, value: Value): void {
    if (name in this.outputs) throw new GraphError(`output ${name} defined twice`);
    this.outputs[name] = value.id;
  }

  embedding(name: string, ids: Value, table: Value, dtype: DType): Value {
    return this.op1('embedding', name, [ids, table], { dtype });
  }

  rmsnorm(name: string, x: Value, weight: Value, eps: number): Value {
    return this.op1('rmsnorm', name, [x, weight], { eps });
  }

  add(name: string, a: Value, b: Value): Value {
    return this.op1('add', name, [a, b], {});
  }

  /** x @ weight^T (+ bias); `dtype` sets the output dtype (default: x's). */
  linear(name: string, x: Value, weight: Value, bias?: Value, dtype?: DType): Value {
    return this.op1('linear', name, bias ? [x, weight, bias] : [x, weight], dtype ? { dtype } : {});
  }

  rope(name: string, x: Value, positions: Value, invFreq: Value, numHeads: number, headDim: number): Value {
    return this.op1('rope', name, [x, positions, invFreq], { numHeads, headDim });
  }

  pagedAttention(
    name: string,
    operands: {
      q: Value;
      k: Value;
      v: Value;
      kCache: Value;
      vCache: Value;
      slotMapping: Value;
      blockTables: Value;
      seqLens: Value;
      queryStart: Value;
    },
    attrs: AttentionAttrs,
  ): Value {
    const o = operands;
    return this.op1(
      'paged_attention',
      name,
      [o.q, o.k, o.v, o.kCache, o.vCache, o.slotMapping, o.blockTables, o.seqLens, o.queryStart],
      plainAttentionAttrs(attrs),
    );
  }

  siluMul(name: string, gate: Value, up: Value): Value {
    return this.op1('silu_mul', name, [gate, up], {});
  }

  gatherRows(name: string, x: Value, indices: Value): Value {
    return this.op1('gather_rows', name, [x, indices], {});
  }

  /** One token per row of `logits` (see `OP_DEFS.sample`); returns [token, logprob]. */
  sample(
    name: string,
    logits: Value,
    params: { temperature: Value; topK: Value; topP: Value; minP: Value; seed: Value; step: Value },
  ): [Value, Value] {
    const p = params;
    const [token, logprob] = this.op('sample', name, [logits, p.temperature, p.topK, p.topP, p.minP, p.seed, p.step], {});
    return [token!, logprob!];
  }

  /** Appends any op; returns its outputs, named `name` (one output) or `name.<output>` (several). */
  op(op: OpKind, name: string, inputs: readonly Value[], attrs: Readonly<Record<string, AttrValue>>): Value[] {
    const def = OP_DEFS[op];
    if (inputs.length < requiredInputs(op) || inputs.length > def.inputs.length) {
      throw new GraphError(`${op} ${name}: takes ${def.inputs.join(', ')}; got ${inputs.length} operands`);
    }
    for (const v of inputs) {
      if (this.values[v.id] !== v) throw new GraphError(`${op} ${name}: operand ${v.name} belongs to another graph`);
    }
    let types;
    try {
      types = def.infer(inputs, attrs);
    } catch (error) {
      if (error instanceof GraphError) throw new GraphError(`${name}: ${error.message}`);
      throw error;
    }
    const outputs = types.map((t, i) =>
      this.addValue(types.length === 1 ? name : `${name}.${def.outputs[i]}`, 'activation', t.dtype, t.shape),
    );
    this.ops.push({
      id: this.ops.length,
      op,
      inputs: inputs.map((v) => v.id),
      outputs: outputs.map((v) => v.id),
      attrs: { ...attrs },
    });
    return outputs;
  }

  /** The finished graph. The builder can keep going; later ops are not in this snapshot. */
  build(): Graph {
    if (Object.keys(this.outputs).length === 0) throw new GraphError(`graph ${this.name} has no outputs`);
    return {
      name: this.name,
      values: [...this.values],
      ops: [...this.ops],
      outputs: { ...this.outputs },
    };
  }

  private op1(op: OpKind, name: string, inputs: readonly Value[], attrs: Readonly<Record<string, AttrValue>>): Value {
    return this.op(op, name, inputs, attrs)[0]!;
  }

  private addValue(name: string, kind: ValueKind, dtype: DType, shape: Shape, data?: readonly number[]): Value {
    if (this.names.has(name)) throw new GraphError(`value name ${name} is used twice`);
    symbolsOf(shape); // validates symbolic dimension syntax
    this.names.add(name);
    const value: Value = data
      ? { id: this.values.length, name, kind, dtype, shape: [...shape], data }
      : { id: this.values.length, name, kind, dtype, shape: [...shape] };
    this.values.push(value);
    return value;
  }
}

/** The attributes as plain data, with the cache scales only where given (absent means 1). */
function plainAttentionAttrs(attrs: AttentionAttrs): Record<string, AttrValue> {
  const { kScale, vScale, ...rest } = attrs;
  return { ...rest, ...(kScale === undefined ? {} : { kScale }), ...(vScale === undefined ? {} : { vScale }) };
}
