import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Graph, SafetensorsCheckpoint, formatShape } from '@ignis/tensor';
import { parseModelConfig } from './config.js';
import { CheckpointError, ModelConfigError } from './errors.js';
import type { ModelSpec } from './spec.js';

/** A Hugging Face model directory: its parsed config and its (lazily read) weights. */
export interface Checkpoint {
  readonly dir: string;
  readonly spec: ModelSpec;
  readonly weights: SafetensorsCheckpoint;
  close(): Promise<void>;
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
 * Checks that the checkpoint holds every weight `graph` needs, with the right shape and a float
 * dtype, and reports every problem at once, each naming the tensor, what was expected and what
 * was found.
 */
export function checkWeights(graph: Graph, checkpoint: Checkpoint): void {
  const problems: string[] = [];
  for (const value of graph.values) {
    if (value.kind !== 'weight') continue;
    const expected = `${formatShape(value.shape)}`;
    const found = checkpoint.weights.tensorInfo(value.name);
    if (!found) {
      problems.push(`missing tensor ${value.name} (expected shape ${expected})`);
    } else if (formatShape(found.shape) !== expected) {
      problems.push(`tensor ${value.name} has shape ${formatShape(found.shape)} in ${found.file}, expected ${expected}`);
    } else if (!['f32', 'f16', 'bf16'].includes(found.dtype)) {
      problems.push(`tensor ${value.name} has dtype ${found.dtype} in ${found.file}, expected a float dtype`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : '';
    throw new CheckpointError(`checkpoint ${checkpoint.dir} does not match its config (${checkpoint.spec.architecture}):\n  ${shown}${more}`);
  }
}
