import type { DType } from '../dtype.js';
import type { Graph, OpNode, Value, WeightSlice } from '../graph/types.js';
import { type WeightFormat, sameFormat } from '../graph/weight-format.js';

/** A graph-to-graph rewrite that keeps the computed outputs the same. */
export interface Pass {
  readonly name: string;
  run(graph: Graph): Graph;
}

/** Ops that change state (the KV cache) and so must stay even when their outputs go unused. */
const SIDE_EFFECTS = new Set<OpNode['op']>(['paged_attention', 'paged_attention_qkv']);

/** For each value id, the ids of the ops that read it. */
export function consumers(graph: Graph): Map<number, number[]> {
  const uses = new Map<number, number[]>();
  for (const op of graph.ops) {
    for (const input of op.inputs) {
      const list = uses.get(input);
      if (list) list.push(op.id);
      else uses.set(input, [op.id]);
    }
  }
  return uses;
}

/**
 * Rebuilds a graph from a new op list: drops values nothing uses, renumbers values and ops
 * densely in order, and rewrites references.
 */
export function rebuildGraph(graph: Graph, ops: readonly OpNode[]): Graph {
  const used = new Set<number>(Object.values(graph.outputs));
  for (const op of ops) {
    op.inputs.forEach((id) => used.add(id));
    op.outputs.forEach((id) => used.add(id));
  }
  const renumber = new Map<number, number>();
  const values: Value[] = [];
  for (const value of graph.values) {
    if (!used.has(value.id)) continue;
    renumber.set(value.id, values.length);
    values.push({ ...value, id: values.length });
  }
  const map = (id: number): number => renumber.get(id)!;
  return {
    name: graph.name,
    values,
    ops: ops.map((op, i) => ({ ...op, id: i, inputs: op.inputs.map(map), outputs: op.outputs.map(map) })),
    outputs: Object.fromEntries(Object.entries(graph.outputs).map(([k, id]) => [k, map(id)])),
  };
}

/** Removes ops whose results nobody reads (ops with side effects always stay). */
export const eliminateDeadOps: Pass = {
  name: 'eliminate-dead-ops',
  run(graph) {
    const live = new Set<number>(Object.values(graph.outputs));
    const kept: OpNode[] = [];
    for (let i = graph.ops.length - 1; i >= 0; i--) {
      const op = graph.ops[i]!;
      if (SIDE_EFFECTS.has(op.op) || op.outputs.some((id) => live.has(id))) {
        kept.push(op);
        op.inputs.forEach((id) => live.add(id));
      }
    }
    return rebuildGraph(graph, kept.reverse());
  },
};

/**
 * Fuses `s = add(a, b)` and a later `rmsnorm(s, w)` into one `add_rmsnorm(a, b, w)` that yields
 * both `s` (the residual stream, still readable by later ops) and the normalized value. The
 * fused op takes the add's place: its extra operand is a weight, available from the start.
 */
export const fuseAddRmsnorm: Pass = {
  name: 'fuse-add-rmsnorm',
  run(graph) {
    const producer = new Map<number, OpNode>();
    for (const op of graph.ops) op.outputs.forEach((id) => producer.set(id, op));
    const fusedInto = new Map<number, OpNode>(); // add op id -> fused op
    const removed = new Set<number>(); // rmsnorm op ids folded into an add
    for (const norm of graph.ops) {
      if (norm.op !== 'rmsnorm') continue;
      const add = producer.get(norm.inputs[0]!);
      if (!add || add.op !== 'add' || fusedInto.has(add.id)) continue;
      fusedInto.set(add.id, {
        id: add.id,
        op: 'add_rmsnorm',
        inputs: [add.inputs[0]!, add.inputs[1]!, norm.inputs[1]!],
        outputs: [add.outputs[0]!, norm.outputs[0]!],
        attrs: norm.attrs,
      });
      removed.add(norm.id);
    }
    const ops = graph.ops.filter((op) => !removed.has(op.id)).map((op) => fusedInto.get(op.id) ?? op);
    return rebuildGraph(graph, ops);
  },
};

/** What a fusion pass works with: who produces and who reads each value, and new values. */
class Rewriter {
  readonly values: Value[];
  private readonly producers = new Map<number, OpNode>();
  private readonly uses: Map<number, number[]>;

  constructor(readonly graph: Graph) {
    this.values = [...graph.values];
    for (const op of graph.ops) op.outputs.forEach((id) => this.producers.set(id, op));
    this.uses = consumers(graph);
  }

  /** The op that writes `id`, if it is of kind `kind` and `id` is read by exactly one op and is no graph output. */
  soleProducer(id: number, kind: OpNode['op']): OpNode | undefined {
    const op = this.producers.get(id);
    const isOutput = Object.values(this.graph.outputs).includes(id);
    return op && op.op === kind && !isOutput && this.uses.get(id)?.length === 1 ? op : undefined;
  }

  /**
   * The weights (and biases) of `linears`, stacked row-wise into new weights whose slices name
   * the originals; undefined unless every linear reads the same input, has a whole checkpoint
   * weight of the same dtype, width and format (block-scaled parts must also start on a block
   * edge), and either all or none have biases.
   */
  fuseLinearWeights(linears: readonly OpNode[]): { weight: Value; bias?: Value } | undefined {
    const x = linears[0]!.inputs[0];
    const weights = linears.map((op) => this.values[op.inputs[1]!]!);
    const biases = linears.map((op) => (op.inputs[2] === undefined ? undefined : this.values[op.inputs[2]]!));
    if (linears.some((op) => op.inputs[0] !== x || JSON.stringify(op.attrs) !== JSON.stringify(linears[0]!.attrs))) return undefined;
    const first = weights[0]!;
    if (weights.some((w) => w.kind !== 'weight' || w.slices || w.dtype !== first.dtype || w.shape[1] !== first.shape[1] || !sameFormat(w.format, first.format))) return undefined;
    const scale = first.format?.scale;
    if (scale?.kind === 'block' && weights.slice(0, -1).some((w) => (w.shape[0] as number) % scale.rows !== 0)) return undefined;
    const withBias = biases.filter((b) => b !== undefined).length;
    if (withBias !== 0 && withBias !== biases.length) return undefined;
    const fuse = (parts: readonly Value[], rowWidth: number | undefined): Value => {
      let row = 0;
      const slices: WeightSlice[] = parts.map((p) => {
        const slice: WeightSlice = { name: p.name, shape: p.shape as number[], at: [row, 0] };
        row += p.shape[0] as number;
        return slice;
      });
      const name = `fuse(${parts.map((p) => p.name).join(', ')})`;
      const shape = rowWidth === undefined ? [row] : [row, rowWidth];
      return this.add({ name, kind: 'weight', dtype: parts[0]!.dtype, shape, slices, ...(parts[0]!.format ? { format: parts[0]!.format } : {}) });
    };
    const weight = fuse(weights, weights[0]!.shape[1] as number);
    return withBias ? { weight, bias: fuse(biases as Value[], undefined) } : { weight };
  }

  add(value: Omit<Value, 'id'>): Value {
    const added = { ...value, id: this.values.length } as Value;
    this.values.push(added);
    return added;
  }

  /** The graph with `replace` applied: op id -> the op to put in its place, or null to drop it. */
  finish(replace: ReadonlyMap<number, OpNode | null>): Graph {
    const ops = this.graph.ops.flatMap((op) => {
      const next = replace.get(op.id);
      return next === undefined ? [op] : next === null ? [] : [next];
    });
    return rebuildGraph({ ...this.graph, values: this.values }, ops);
  }
}

/**
 * Fuses the q, k and v projections of an attention layer into one matmul with a concatenated
 * weight, and the two ropes, the KV write and the attention into one `paged_attention_qkv`: one
 * GEMM instead of three (decode reads the same bytes with one launch and a fuller machine) and
 * one rotary/cache kernel instead of three.
 */
export const fuseQkv: Pass = {
  name: 'fuse-qkv',
  run(graph) {
    const g = new Rewriter(graph);
    const replace = new Map<number, OpNode | null>();
    for (const attention of graph.ops) {
      if (attention.op !== 'paged_attention') continue;
      const [qRot, kRot, v, ...rest] = attention.inputs as number[];
      const ropeQ = g.soleProducer(qRot!, 'rope');
      const ropeK = g.soleProducer(kRot!, 'rope');
      if (!ropeQ || !ropeK || ropeQ.inputs[1] !== ropeK.inputs[1] || ropeQ.inputs[2] !== ropeK.inputs[2]) continue;
      const linears = [g.soleProducer(ropeQ.inputs[0]!, 'linear'), g.soleProducer(ropeK.inputs[0]!, 'linear'), g.soleProducer(v!, 'linear')];
      if (linears.some((op) => !op)) continue;
      const fused = g.fuseLinearWeights(linears as OpNode[]);
      if (!fused) continue;
      const [linQ, linK, linV] = linears as [OpNode, OpNode, OpNode];
      const out = g.values[linQ.outputs[0]!]!;
      const qkv = g.add({ name: `${out.name}kv`, kind: 'activation', dtype: out.dtype, shape: [out.shape[0]!, fused.weight.shape[0]!] });
      const first = [linQ, linK, linV].reduce((a, b) => (graph.ops.indexOf(a) < graph.ops.indexOf(b) ? a : b));
      replace.set(first.id, {
        ...linQ,
        id: first.id,
        inputs: fused.bias ? [linQ.inputs[0]!, fused.weight.id, fused.bias.id] : [linQ.inputs[0]!, fused.weight.id],
        outputs: [qkv.id],
      });
      for (const op of [linQ, linK, linV, ropeQ, ropeK]) if (op !== first) replace.set(op.id, null);
      replace.set(attention.id, { ...attention, op: 'paged_attention_qkv', inputs: [qkv.id, ropeQ.inputs[1]!, ropeQ.inputs[2]!, ...rest] });
    }
    return g.finish(replace);
  },
};

/**
 * Fuses the gate and up projections feeding a `silu_mul` into one matmul with a concatenated
 * weight followed by `swiglu`: one GEMM reading both weights instead of two.
 */
export const fuseGateUp: Pass = {
  name: 'fuse-gate-up',
  run(graph) {
    const g = new Rewriter(graph);
    const replace = new Map<number, OpNode | null>();
    for (const silu of graph.ops) {
      if (silu.op !== 'silu_mul') continue;
      const gate = g.soleProducer(silu.inputs[0]!, 'linear');
      const up = g.soleProducer(silu.inputs[1]!, 'linear');
      if (!gate || !up) continue;
      const fused = g.fuseLinearWeights([gate, up]);
      if (!fused) continue;
      const out = g.values[gate.outputs[0]!]!;
      const gateUp = g.add({ name: `${out.name}_up`, kind: 'activation', dtype: out.dtype, shape: [out.shape[0]!, fused.weight.shape[0]!] });
      const first = graph.ops.indexOf(gate) < graph.ops.indexOf(up) ? gate : up;
      replace.set(first.id, { ...gate, id: first.id, inputs: fused.bias ? [gate.inputs[0]!, fused.weight.id, fused.bias.id] : [gate.inputs[0]!, fused.weight.id], outputs: [gateUp.id] });
      replace.set((first === gate ? up : gate).id, null);
      replace.set(silu.id, { ...silu, op: 'swiglu', inputs: [gateUp.id] });
    }
    return g.finish(replace);
  },
};

/** A quantized weight's dtype and format, as a quantization scheme chooses them. */
export interface QuantizedWeight {
  readonly dtype: DType;
  readonly format: WeightFormat;
}

/**
 * Quantization as a transform of a finished graph (gpt-fast's `quantize(model)`): for each
 * weight read only as the weight of `linear` ops, `choose` gives its quantized dtype and format,
 * or undefined to leave it as it is. Model builders never mention quantization; run this before
 * the fusion passes, which then fuse only weights of one format.
 */
export function quantizeLinears(name: string, choose: (weight: Value, readers: readonly OpNode[], graph: Graph) => QuantizedWeight | undefined): Pass {
  return {
    name,
    run(graph) {
      const uses = consumers(graph);
      const values = graph.values.map((value) => {
        if (value.kind !== 'weight' || value.shape.length !== 2) return value;
        const readers = (uses.get(value.id) ?? []).map((id) => graph.ops[id]!);
        if (readers.length === 0 || readers.some((op) => op.op !== 'linear' || op.inputs[1] !== value.id || op.inputs[0] === value.id)) return value;
        const chosen = choose(value, readers, graph);
        return chosen ? withFormat(value, chosen) : value;
      });
      return { ...graph, values };
    },
  };
}

/** `value` quantized as `chosen`. */
export function withFormat(value: Value, chosen: QuantizedWeight): Value {
  return { ...value, dtype: chosen.dtype, format: chosen.format };
}

/** The passes `compile()` runs by default, in order. */
export const DEFAULT_PASSES: readonly Pass[] = [eliminateDeadOps, fuseAddRmsnorm, fuseQkv, fuseGateUp];
