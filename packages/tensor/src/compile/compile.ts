import { type DimSizes, symbolsOf } from '../graph/dims.js';
import { GraphError } from '../graph/ops.js';
import type { Graph } from '../graph/types.js';
import { type MemoryPlan, planMemory } from './memory-plan.js';
import { DEFAULT_PASSES, type Pass } from './passes.js';

/**
 * A compiled graph: ops in execution order and a static memory plan for the largest step.
 * Plain data: it can be printed ({@link formatPlan}), diffed and saved as JSON.
 */
export interface Plan extends Graph {
  /** Largest size of each per-step symbolic dimension the memory plan holds. */
  readonly maxDims: DimSizes;
  /** Symbolic dimensions fixed when a backend loads the plan (used only by state values). */
  readonly loadDims: readonly string[];
  /** Passes that ran, in order. */
  readonly passes: readonly string[];
  readonly memory: MemoryPlan;
}

/** Options for {@link compile}. */
export interface CompileOptions {
  /** Maximum of every symbolic dimension used by inputs and activations (e.g. `{ T: 512, S: 16 }`). */
  readonly maxDims: DimSizes;
  /** Passes to run; defaults to {@link DEFAULT_PASSES}. Pass `[]` to compile the graph as written. */
  readonly passes?: readonly Pass[];
}

/** Runs the passes over `graph` and lays out memory for the largest step. */
export function compile(graph: Graph, options: CompileOptions): Plan {
  let current = graph;
  const passes = options.passes ?? DEFAULT_PASSES;
  for (const pass of passes) current = pass.run(current);

  const stepSymbols = new Set<string>();
  const loadSymbols = new Set<string>();
  for (const value of current.values) {
    const target = value.kind === 'state' ? loadSymbols : stepSymbols;
    symbolsOf(value.shape).forEach((s) => target.add(s));
  }
  for (const symbol of stepSymbols) {
    const max = options.maxDims[symbol];
    if (max === undefined || !Number.isInteger(max) || max <= 0) {
      throw new GraphError(`compile ${graph.name}: maxDims.${symbol} must be a positive integer, got ${String(max)}`);
    }
  }
  const maxDims = Object.fromEntries([...stepSymbols].sort().map((s) => [s, options.maxDims[s]!]));
  return {
    ...current,
    maxDims,
    loadDims: [...loadSymbols].filter((s) => !stepSymbols.has(s)).sort(),
    passes: passes.map((p) => p.name),
    memory: planMemory(current, maxDims),
  };
}
