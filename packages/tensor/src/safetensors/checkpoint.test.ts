import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafetensorsCheckpoint } from './checkpoint.js';
import { expectSafetensorsError, expectSameTensor, fileBytes, makeTempDir, randomTensor } from './test-support.js';
import { SHARD_INDEX_FILE, writeSafetensors, writeShardedSafetensors } from './writer.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await makeTempDir()));
afterEach(async () => remove());

const at = (name: string): string => nodePath.join(dir, name);

/** Opens `path` as a checkpoint, runs `check` on it, and closes it. */
async function withCheckpoint(path: string, check: (c: SafetensorsCheckpoint) => Promise<void>): Promise<void> {
  const checkpoint = await SafetensorsCheckpoint.open(path);
  try {
    await check(checkpoint);
  } finally {
    await checkpoint.close();
  }
}

describe('SafetensorsCheckpoint layouts', () => {
  it('opens a single file given by path', async () => {
    const weight = randomTensor('bf16', [4, 2]);
    await writeSafetensors(at('weights.safetensors'), { weight });
    await withCheckpoint(at('weights.safetensors'), async (checkpoint) => {
      expect(checkpoint.files).toEqual([at('weights.safetensors')]);
      expect(checkpoint.info('weight')).toEqual({ dtype: 'bf16', shape: [4, 2] });
      expectSameTensor(await checkpoint.read('weight'), weight);
    });
  });

  it('prefers model.safetensors in a directory over other files', async () => {
    await writeSafetensors(at('model.safetensors'), { a: randomTensor('f32', [1]) });
    await writeSafetensors(at('other.safetensors'), { b: randomTensor('f32', [1]) });
    await withCheckpoint(dir, async (checkpoint) => {
      expect(checkpoint.files).toEqual([at('model.safetensors')]);
      expect(checkpoint.names()).toEqual(['a']);
    });
  });

  it('uses every loose *.safetensors file when there is no model.safetensors', async () => {
    const a = randomTensor('i32', [3]);
    const b = randomTensor('f16', [2, 2]);
    await writeSafetensors(at('part-b.safetensors'), { b });
    await writeSafetensors(at('part-a.safetensors'), { a });
    await fsp.writeFile(at('config.json'), '{}');
    await withCheckpoint(dir, async (checkpoint) => {
      expect(checkpoint.files).toEqual([at('part-a.safetensors'), at('part-b.safetensors')]);
      expect(checkpoint.names()).toEqual(['a', 'b']);
      expectSameTensor(await checkpoint.read('a'), a);
      expectSameTensor(await checkpoint.read('b'), b);
    });
  });

  it('uses the index when there is one, with absolute offsets into each shard', async () => {
    const tensors = { x: randomTensor('f32', [8]), y: randomTensor('i8', [40]), z: randomTensor('bf16', [16]) };
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 40 });
    await writeSafetensors(at('stray.safetensors'), { stray: randomTensor('f32', [1]) });
    await withCheckpoint(dir, async (checkpoint) => {
      expect(checkpoint.names()).toEqual(['x', 'y', 'z']);
      expect(checkpoint.files).toHaveLength(3);
      for (const [name, expected] of Object.entries(tensors)) {
        const info = checkpoint.tensorInfo(name)!;
        const raw = Buffer.alloc(info.byteLength);
        const handle = await fsp.open(info.file, 'r');
        await handle.read(raw, 0, info.byteLength, info.byteOffset);
        await handle.close();
        expect(new Uint8Array(raw)).toEqual(expected.bytes());
      }
      expect(checkpoint.info('stray')).toBeUndefined();
    });
  });
});

describe('SafetensorsCheckpoint errors', () => {
  it('reports a missing tensor with the files searched', async () => {
    await writeSafetensors(at('model.safetensors'), { a: randomTensor('f32', [1]) });
    await withCheckpoint(dir, async (checkpoint) => {
      expect(checkpoint.info('missing')).toBeUndefined();
      expect(checkpoint.tensorInfo('missing')).toBeUndefined();
      await expectSafetensorsError(
        () => checkpoint.read('missing'),
        new RegExp(`^tensor missing not found in ${escape(at('model.safetensors'))}$`),
        at('model.safetensors'),
      );
    });
  });

  it('refuses a directory without weights', async () => {
    await fsp.writeFile(at('config.json'), '{}');
    await expectSafetensorsError(
      () => SafetensorsCheckpoint.open(dir),
      new RegExp(
        `^no safetensors weights in ${escape(dir)} ` +
          escape('(looked for model.safetensors.index.json, model.safetensors, *.safetensors)') +
          '$',
      ),
      dir,
    );
  });

  it('refuses a path that does not exist', async () => {
    const nowhere = at('nowhere');
    await expectSafetensorsError(() => SafetensorsCheckpoint.open(nowhere), /cannot open checkpoint: ENOENT/, nowhere);
  });

  it('refuses an index naming a shard file that does not exist', async () => {
    const tensors = { a: randomTensor('f32', [4]), b: randomTensor('f32', [4]) };
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 16 });
    await fsp.rm(at('model-00002-of-00002.safetensors'));
    const error = await expectSafetensorsError(
      () => SafetensorsCheckpoint.open(dir),
      /shard file .*model-00002-of-00002\.safetensors listed in .*model\.safetensors\.index\.json does not exist/,
      at('model-00002-of-00002.safetensors'),
    );
    expect(error.message).toContain(at(SHARD_INDEX_FILE));
  });

  it('refuses an index listing a tensor that its shard lacks', async () => {
    await writeShardedSafetensors(dir, { a: randomTensor('f32', [4]) }, { maxShardBytes: 16 });
    const shard = 'model-00001-of-00001.safetensors';
    const index = { metadata: { total_size: 16 }, weight_map: { a: shard, ghost: shard } };
    await fsp.writeFile(at(SHARD_INDEX_FILE), JSON.stringify(index));
    const error = await expectSafetensorsError(
      () => SafetensorsCheckpoint.open(dir),
      /tensor ghost listed in .*model\.safetensors\.index\.json is not in shard .*model-00001-of-00001\.safetensors/,
      at('model-00001-of-00001.safetensors'),
    );
    expect(error.tensor).toBe('ghost');
  });

  it('refuses a malformed index', async () => {
    const open = () => SafetensorsCheckpoint.open(dir);
    await fsp.writeFile(at(SHARD_INDEX_FILE), '{"weight_map": ');
    await expectSafetensorsError(open, /cannot read index/, at(SHARD_INDEX_FILE));
    await fsp.writeFile(at(SHARD_INDEX_FILE), '{"metadata": {}}');
    await expectSafetensorsError(open, /index has no "weight_map" object/, at(SHARD_INDEX_FILE));
    await fsp.writeFile(at(SHARD_INDEX_FILE), '{"weight_map": {"a": 1}}');
    await expectSafetensorsError(open, /weight_map entry for tensor a is not a file name/, at(SHARD_INDEX_FILE));
  });

  it('refuses the same tensor in two loose files, naming both', async () => {
    await writeSafetensors(at('one.safetensors'), { shared: randomTensor('f32', [1]) });
    await writeSafetensors(at('two.safetensors'), { shared: randomTensor('f32', [1]) });
    await expectSafetensorsError(
      () => SafetensorsCheckpoint.open(dir),
      /tensor shared is in both .*one\.safetensors and .*two\.safetensors/,
      at('two.safetensors'),
    );
  });

  it('passes on a shard error and refuses unsupported dtypes only when asked', async () => {
    await fsp.writeFile(at('a.safetensors'), fileBytes('{"t": '));
    const open = () => SafetensorsCheckpoint.open(dir);
    await expectSafetensorsError(open, /header is not valid JSON/, at('a.safetensors'));
    const header = JSON.stringify({ 'model.x.weight': { dtype: 'F64', shape: [1], data_offsets: [0, 8] } });
    await fsp.writeFile(at('a.safetensors'), fileBytes(header, new Uint8Array(8)));
    await withCheckpoint(dir, async (checkpoint) => {
      expect(checkpoint.names()).toEqual(['model.x.weight']);
      const message = `unsupported dtype F64 in tensor model.x.weight (file ${at('a.safetensors')})`;
      expect(() => checkpoint.info('model.x.weight')).toThrow(message);
      await expect(checkpoint.read('model.x.weight')).rejects.toThrow(message);
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
