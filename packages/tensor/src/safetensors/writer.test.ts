import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { SafetensorsCheckpoint } from './checkpoint.js';
import { SafetensorsFile } from './reader.js';
import { expectSafetensorsError, expectSameTensor, handBuiltFile, makeTempDir, randomTensor } from './test-support.js';
import { SHARD_INDEX_FILE, serializeSafetensors, writeSafetensors, writeShardedSafetensors } from './writer.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await makeTempDir()));
afterEach(async () => remove());

const DTYPES: DType[] = ['f32', 'f16', 'bf16', 'i8', 'i32'];

/** Two random tensors of every dtype, with odd sizes so that tensors land at unaligned offsets. */
function randomTensors(): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  for (const dtype of DTYPES) {
    tensors[`layers.0.${dtype}.weight`] = randomTensor(dtype, [3, 7]);
    tensors[`layers.1.${dtype}.bias`] = randomTensor(dtype, [5]);
  }
  return tensors;
}

describe('serializeSafetensors', () => {
  it('produces exactly the hand-built bytes', () => {
    const { bytes, tensors } = handBuiltFile();
    // Insertion order differs from sorted order: the writer must sort.
    const shuffled = Object.fromEntries(Object.entries(tensors).reverse());
    expect(serializeSafetensors(shuffled, { format: 'pt' })).toEqual(bytes);
  });

  it('pads the header with spaces to a multiple of 8 and packs the data', () => {
    const bytes = serializeSafetensors({ '10': randomTensor('i8', [3]), '9': randomTensor('i8', [1]) });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    // Sorted as strings, even for integer-like names that a JS object would reorder.
    expect(header.trimEnd()).toBe(
      '{"10":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},"9":{"dtype":"I8","shape":[1],"data_offsets":[3,4]}}',
    );
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/);
    expect(bytes.length).toBe(8 + headerLength + 4);
  });

  it('refuses a tensor named __metadata__', () => {
    expect(() => serializeSafetensors({ __metadata__: randomTensor('f32', [1]) })).toThrow(
      /a tensor cannot be named __metadata__/,
    );
  });
});

describe('writeSafetensors', () => {
  it('round-trips random tensors of every dtype bit-exactly', async () => {
    const tensors = randomTensors();
    const path = nodePath.join(dir, 'model.safetensors');
    const metadata = { format: 'pt', note: 'round trip' };
    await writeSafetensors(path, tensors, metadata);
    expect(new Uint8Array(await fsp.readFile(path))).toEqual(serializeSafetensors(tensors, metadata));
    const file = await SafetensorsFile.open(path);
    expect(file.metadata).toEqual(metadata);
    expect(file.names()).toEqual(Object.keys(tensors).sort());
    for (const [name, expected] of Object.entries(tensors)) expectSameTensor(await file.read(name), expected);
    await file.close();
  });
});

describe('writeShardedSafetensors', () => {
  it('writes Hugging Face shards and index that read back bit-exactly', async () => {
    const tensors = randomTensors();
    const written = await writeShardedSafetensors(dir, tensors, { maxShardBytes: 100 });
    const shardNames = written.slice(0, -1).map((path) => nodePath.basename(path));
    expect(shardNames.length).toBeGreaterThan(2);
    const n = String(shardNames.length).padStart(5, '0');
    expect(shardNames).toEqual(shardNames.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`));
    expect(written.at(-1)).toBe(nodePath.join(dir, SHARD_INDEX_FILE));

    const index = JSON.parse(await fsp.readFile(nodePath.join(dir, SHARD_INDEX_FILE), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    const totalSize = Object.values(tensors).reduce((sum, t) => sum + t.byteLength, 0);
    expect(index.metadata.total_size).toBe(totalSize);
    expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(tensors).sort());
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shardNames));
    for (const name of shardNames) {
      const shard = await SafetensorsFile.open(nodePath.join(dir, name));
      const dataBytes = shard.names().reduce((sum, t) => sum + shard.info(t)!.byteLength, 0);
      // Over the limit only when one tensor alone is (the 3x7 f32/i32 tensors are 84 bytes: none is).
      expect(dataBytes).toBeLessThanOrEqual(100);
      await shard.close();
    }

    const checkpoint = await SafetensorsCheckpoint.open(dir);
    expect(checkpoint.names()).toEqual(Object.keys(tensors).sort());
    for (const [name, expected] of Object.entries(tensors)) expectSameTensor(await checkpoint.read(name), expected);
    await checkpoint.close();
  });

  it('gives a tensor larger than the limit a shard of its own', async () => {
    const tensors = { a: randomTensor('f32', [2]), big: randomTensor('f32', [64]), c: randomTensor('f32', [2]) };
    const written = await writeShardedSafetensors(dir, tensors, { maxShardBytes: 16 });
    expect(written.map((path) => nodePath.basename(path))).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      SHARD_INDEX_FILE,
    ]);
  });

  it('refuses a bad shard size and an empty set of tensors', async () => {
    await expectSafetensorsError(
      () => writeShardedSafetensors(dir, { a: randomTensor('i8', [1]) }, { maxShardBytes: 0 }),
      /maxShardBytes must be a positive integer \(got 0\)/,
      dir,
    );
    const writeNothing = () => writeShardedSafetensors(dir, {}, { maxShardBytes: 8 });
    await expectSafetensorsError(writeNothing, /no tensors to write/, dir);
  });
});
