import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, encodeFromF32 } from '@ignis/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { checkWeights, openCheckpoint } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { checkFiniteWeights, sampleRuns } from './finite-weights.js';
import { DEMO_MODELS, FIXTURE_MODELS, demoModelPath, editedFixture, fixturePath } from './testing/index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of the Qwen2 fixture whose weights are replaced by `edit` of them. */
async function editedQwen(edit: (tensors: Record<string, Tensor>) => void): Promise<string> {
  const dir = await editedFixture('qwen2-bias-tied', { tensors: edit });
  dirs.push(dir);
  return dir;
}

async function check(dir: string): Promise<void> {
  const checkpoint = await openCheckpoint(dir);
  try {
    checkWeights(buildModelGraph(checkpoint.spec, { activationDtype: 'f32', blockSize: 16 }), checkpoint.weights, checkpoint.dir);
  } finally {
    await checkpoint.close();
  }
}

describe('checkpoint checks', () => {
  it('accepts every committed fixture', async () => {
    await expect(check(fixturePath('qwen2-bias-tied'))).resolves.toBeUndefined();
    await expect(check(fixturePath('llama3-gqa-sharded'))).resolves.toBeUndefined();
  });

  it('names a missing tensor and the shape it should have', async () => {
    const dir = await editedQwen((t) => delete t['model.layers.1.self_attn.k_proj.bias']);
    await expect(check(dir)).rejects.toThrow(/missing tensor model.layers.1.self_attn.k_proj.bias \(expected f32 or f16 or bf16 \[32\]\)/);
  });

  it('names a tensor of the wrong shape, the shape found and the shape expected', async () => {
    const dir = await editedQwen((t) => {
      t['model.layers.0.mlp.up_proj.weight'] = Tensor.zeros('bf16', [64, 128]);
    });
    await expect(check(dir)).rejects.toThrow(
      /tensor model.layers.0.mlp.up_proj.weight has shape \[64, 128\], expected \[128, 64\]/,
    );
  });

  it('names the file of a malformed config.json', async () => {
    const dir = await editedQwen(() => undefined);
    await writeFile(join(dir, 'config.json'), '{"architectures": ["LlamaForCausalLM"],');
    await expect(openCheckpoint(dir)).rejects.toThrow(/config.json is not valid JSON/);
  });

  it('names the directory when there is no config.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ignis-empty-'));
    dirs.push(dir);
    await expect(openCheckpoint(dir)).rejects.toThrow(/cannot read .*config.json/);
  });
});

/** Checks the weights of the checkpoint in `dir` for NaN and infinity, in a sample or in full. */
async function checkFinite(dir: string, full: boolean): Promise<void> {
  const checkpoint = await openCheckpoint(dir);
  try {
    await checkFiniteWeights(buildModelGraph(checkpoint.spec, { activationDtype: 'f32', blockSize: 16 }), checkpoint.weights, { full });
  } finally {
    await checkpoint.close();
  }
}

/** A copy of the Qwen2 fixture with `value` at element `at` of its bf16 up projection (128 x 64). */
function withValueAt(value: number, at: number): Promise<string> {
  return editedQwen((t) => {
    const name = 'model.layers.0.mlp.up_proj.weight';
    const data = t[name]!.data as Uint16Array;
    data[at] = encodeFromF32([value], 'bf16')[0]!;
  });
}

describe('non-finite weights', () => {
  it('every committed checkpoint is finite, in full', async () => {
    for (const dir of [...FIXTURE_MODELS.map(fixturePath), ...DEMO_MODELS.map(demoModelPath)]) {
      await expect(checkFinite(dir, true), dir).resolves.toBeUndefined();
    }
  });

  it('the sample taken at every load finds a NaN in a sampled element, naming the tensor, the file (base name only), the element and the value', async () => {
    const dir = await withValueAt(Number.NaN, 0);
    const error = await checkFinite(dir, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe('tensor model.layers.0.mlp.up_proj.weight in model.safetensors holds NaN at element 0 of 8192: the checkpoint is corrupt');
  });

  it('an infinity between the sampled runs passes the sample and fails the full check', async () => {
    const runs = sampleRuns(8192, 2);
    const at = runs[0]!.count + 100; // past the first run, before the second
    expect(runs.some((r) => at >= r.start && at < r.start + r.count)).toBe(false);
    const dir = await withValueAt(Number.NEGATIVE_INFINITY, at);
    await expect(checkFinite(dir, false)).resolves.toBeUndefined();
    await expect(checkFinite(dir, true)).rejects.toThrow(`tensor model.layers.0.mlp.up_proj.weight in model.safetensors holds -Infinity at element ${at} of 8192`);
  });

  it('samples 8 runs of 512 bytes spread from the first element to the last, or a small tensor whole', () => {
    expect(sampleRuns(2048, 2)).toEqual([{ start: 0, count: 2048 }]);
    const runs = sampleRuns(1_000_000, 4);
    expect(runs).toHaveLength(8);
    expect(runs.every((r) => r.count === 128)).toBe(true);
    expect(runs[0]!.start).toBe(0);
    expect(runs.at(-1)!.start + 128).toBe(1_000_000);
    for (let k = 1; k < 8; k++) expect(runs[k]!.start - runs[k - 1]!.start).toBeGreaterThan(128); // no overlaps
  });
});
