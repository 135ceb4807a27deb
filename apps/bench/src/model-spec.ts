import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelSpec, SYNTHETIC_CONFIGS, SYNTHETIC_PREFIX, openModel } from '@ignis/models';

/** A model's spec without loading weights (benchmarks size workloads and kernels from it). */
export async function modelSpec(location: string): Promise<ModelSpec> {
  const model = await openModel(location);
  await model.close();
  return model.spec;
}

/** The Hugging Face config.json of a model directory or a `synthetic:NAME` shape (what a peer builds its model from). */
export async function hfConfig(location: string): Promise<Record<string, unknown>> {
  if (location.startsWith(SYNTHETIC_PREFIX)) {
    const config = SYNTHETIC_CONFIGS[location.slice(SYNTHETIC_PREFIX.length)];
    if (!config) throw new Error(`unknown synthetic model ${location}`);
    return config;
  }
  return JSON.parse(await readFile(join(location, 'config.json'), 'utf8')) as Record<string, unknown>;
}
