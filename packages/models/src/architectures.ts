import type { Graph } from '@ignis/tensor';
import { type GraphOptions, buildLlamaGraph } from './llama.js';
import type { Architecture, ModelSpec } from './spec.js';

/** The graph builder of each supported architecture. */
const BUILDERS: Readonly<Record<Architecture, (spec: ModelSpec, options: GraphOptions) => Graph>> = {
  LlamaForCausalLM: buildLlamaGraph,
  MistralForCausalLM: buildLlamaGraph,
  Qwen2ForCausalLM: buildLlamaGraph,
};

/** Builds the graph of `spec`'s architecture. */
export function buildModelGraph(spec: ModelSpec, options: GraphOptions): Graph {
  return BUILDERS[spec.architecture](spec, options);
}
