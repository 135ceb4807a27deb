import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, Tensor, writeSafetensors } from '@ignis/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { checkWeights, openCheckpoint } from './checkpoint.js';
import { fixturePath } from './testing/index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of the Qwen2 fixture whose weights are replaced by `edit` of them. */
async function editedQwen(edit: (tensors: Record<string, Tensor>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ignis-ckpt-'));
  dirs.push(dir);
  await cp(fixturePath('qwen2-bias-tied'), dir, { recursive: true });
  const source = await SafetensorsCheckpoint.open(join(dir, 'model.safetensors'));
  const tensors: Record<string, Tensor> = {};
  for (const name of source.names()) tensors[name] = await source.read(name);
  await source.close();
  edit(tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
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
