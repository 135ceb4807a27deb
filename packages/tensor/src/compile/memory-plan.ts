import { dtypeBytes } from '../dtype.js';
import { type DimSizes, evalNumel } from '../graph/dims.js';
import { OP_DEFS } from '../graph/ops.js';
import type { Graph } from '../graph/types.js';

/** Where one per-step value lives in the step arena. */
export interface BufferSlot {
  readonly offset: number;
  readonly bytes: number;
}

/** The static memory plan: every input and activation placed in one arena sized for the largest step. */
export interface MemoryPlan {
  /** Alignment of every offset, in bytes. */
  readonly alignment: number;
  /** Bytes the arena needs. */
  readonly arenaBytes: number;
  /** Bytes the same values would take with no reuse, for comparison. */
  readonly unsharedBytes: number;
  /** Value id -> slot, for inputs and activations. */
  readonly slots: Readonly<Record<number, BufferSlot>>;
}

/** Offsets are aligned for 16-byte vector loads and for cudaMalloc-style sub-allocation. */
export const ARENA_ALIGNMENT = 256;

const align = (n: number): number => Math.ceil(n / ARENA_ALIGNMENT) * ARENA_ALIGNMENT;

/**
 * Places inputs and activations with first-fit reuse of freed ranges. A value is live from the
 * op that writes it (inputs: from the start of the step) to the last op that reads it (graph
 * outputs: to the end). An op's outputs never share memory with its inputs.
 */
export function planMemory(graph: Graph, maxDims: DimSizes): MemoryPlan {
  const lastUse = new Map<number, number>();
  graph.ops.forEach((op, i) => op.inputs.forEach((id) => lastUse.set(id, i)));
  for (const id of Object.values(graph.outputs)) lastUse.set(id, graph.ops.length);

  const free: { offset: number; bytes: number }[] = [];
  const slots: Record<number, BufferSlot> = {};
  let arenaBytes = 0;
  let unsharedBytes = 0;

  const allocate = (id: number): void => {
    const value = graph.values[id]!;
    const bytes = align(evalNumel(value.shape, maxDims) * dtypeBytes(value.dtype));
    unsharedBytes += bytes;
    const index = free.findIndex((range) => range.bytes >= bytes);
    let offset: number;
    if (index >= 0) {
      const range = free[index]!;
      offset = range.offset;
      if (range.bytes === bytes) free.splice(index, 1);
      else free[index] = { offset: range.offset + bytes, bytes: range.bytes - bytes };
    } else {
      offset = arenaBytes;
      arenaBytes += bytes;
    }
    slots[id] = { offset, bytes };
  };

  const release = (id: number): void => {
    const slot = slots[id]!;
    free.push({ offset: slot.offset, bytes: slot.bytes });
    free.sort((a, b) => a.offset - b.offset);
    // Merge neighbours so that large later values can reuse several freed ones.
    for (let i = free.length - 2; i >= 0; i--) {
      const a = free[i]!;
      const b = free[i + 1]!;
      if (a.offset + a.bytes === b.offset) free.splice(i, 2, { offset: a.offset, bytes: a.bytes + b.bytes });
    }
    // Give back a free tail so the arena ends at the last live byte.
    const last = free[free.length - 1];
    if (last && last.offset + last.bytes === arenaBytes) {
      free.pop();
      arenaBytes = last.offset;
    }
  };

  let peak = 0;
  for (const value of graph.values) if (value.kind === 'input') allocate(value.id);
  peak = arenaBytes;
  graph.ops.forEach((op, i) => {
    // An in-place op's output takes over its input's bytes when this op is the input's last reader.
    const over = OP_DEFS[op.op].inPlace;
    const input = over === undefined ? undefined : op.inputs[over];
    const takeOver =
      input !== undefined &&
      graph.values[input]!.kind === 'activation' &&
      lastUse.get(input) === i &&
      slots[input]!.bytes === align(evalNumel(graph.values[op.outputs[0]!]!.shape, maxDims) * dtypeBytes(graph.values[op.outputs[0]!]!.dtype));
    if (takeOver) {
      slots[op.outputs[0]!] = slots[input]!;
      unsharedBytes += slots[input]!.bytes;
      lastUse.delete(input); // its bytes now belong to the output: never released as the input's
    }
    for (const id of op.outputs) if (!slots[id]) allocate(id);
    peak = Math.max(peak, arenaBytes);
    for (const id of new Set(op.inputs)) {
      const kind = graph.values[id]!.kind;
      if ((kind === 'activation' || kind === 'input') && lastUse.get(id) === i) release(id);
    }
    for (const id of op.outputs) if (!lastUse.has(id)) release(id); // written, never read
  });
  return { alignment: ARENA_ALIGNMENT, arenaBytes: peak, unsharedBytes, slots };
}
