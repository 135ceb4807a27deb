import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Graph, SafetensorsCheckpoint, type WeightSource, weightProblems } from '@ignis/tensor';
import { parseModelConfig } from './config.js';
import { CheckpointError, ModelConfigError } from './errors.js';
import type { ModelSpec } from './spec.js';
import { SyntheticWeights, syntheticSpec } from './synthetic.js';

/** A Hugging Face model directory: its parsed config and its (lazily read) weights. */
export interface Checkpoint {
  readonly dir: string;
  readonly spec: ModelSpec;
  readonly weights: SafetensorsCheckpoint;
  close(): Promise<void>;
}

/** Where a model's spec and weights come from: a checkpoint directory or a named synthetic shape. */
export interface ModelSource {
  /** The directory, or `synthetic:NAME`. */
  readonly location: string;
  readonly spec: ModelSpec;
  /** True for random weights (no checkpoint, no tokenizer). */
  readonly synthetic: boolean;
  /** The weights of `graph` (a checkpoint ignores the graph; synthetic weights are made for it). */
  weights(graph: Graph): WeightSource;
  close(): Promise<void>;
}

/** The prefix that names a synthetic model instead of a directory, e.g. `synthetic:llama-3.1-8b`. */
export const SYNTHETIC_PREFIX = 'synthetic:';

/** Opens a checkpoint directory, or a synthetic shape when `location` starts with `synthetic:`. */
export async function openModel(location: string): Promise<ModelSource> {
  if (location.startsWith(SYNTHETIC_PREFIX)) {
    const spec = syntheticSpec(location.slice(SYNTHETIC_PREFIX.length));
    return { location, spec, synthetic: true, weights: (graph) => new SyntheticWeights(graph), close: () => Promise.resolve() };
  }
  const checkpoint = await openCheckpoint(location);
  return { location, spec: checkpoint.spec, synthetic: false, weights: () => checkpoint.weights, close: () => checkpoint.close() };
}

/** Opens `dir`: parses config.json and indexes the safetensors files (no weight data is read). */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const configPath = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw new ModelConfigError(`cannot read ${configPath}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelConfigError(`${configPath} is not valid JSON: ${(error as Error).message}`);
  }
  const spec = parseModelConfig(raw, configPath);
  const weights = await SafetensorsCheckpoint.open(dir);
  return { dir, spec, weights, close: () => weights.close() };
}

/**
 * Checks that `weights` holds every tensor the weights of `graph` (a compiled plan, quantized or
 * not) are assembled from, with the right shapes and dtypes and, for quantized weights, their
 * scales; reports every problem at once, each naming the tensor, what was expected and what was
 * found. `where` names the checkpoint.
 */
export function checkWeights(graph: Graph, weights: WeightSource, where: string): void {
  const problems = weightProblems(graph.values, weights);
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : '';
    throw new CheckpointError(`checkpoint ${where} does not match its config (${graph.name}):\n  ${shown}${more}`);
  }
}
