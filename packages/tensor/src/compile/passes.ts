import type { Graph, OpNode, Value } from '../graph/types.js';

/** A graph-to-graph rewrite that keeps the computed outputs the same. */
export interface Pass {
  readonly name: string;
  run(graph: Graph): Graph;
}

/** Ops that change state (the KV cache) and so must stay even when their outputs go unused. */
const SIDE_EFFECTS = new Set<OpNode['op']>(['paged_attention']);

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

/** The passes `compile()` runs by default, in order. */
export const DEFAULT_PASSES: readonly Pass[] = [eliminateDeadOps, fuseAddRmsnorm];
