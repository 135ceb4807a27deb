import fsp from 'node:fs/promises';
import os from 'node:os';
import nodePath from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_HEADER_BYTES, SafetensorsFile } from './reader.js';
import {
  expectSafetensorsError,
  expectSameTensor,
  fileBytes,
  handBuiltFile,
  makeTempDir,
  randomTensor,
} from './test-support.js';
import { serializeSafetensors } from './writer.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await makeTempDir()));
afterEach(async () => {
  vi.restoreAllMocks();
  await remove();
});

async function writeFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = nodePath.join(dir, name);
  await fsp.writeFile(path, bytes);
  return path;
}

/** Opens `bytes` written as a file and expects the open to fail with `pattern`. */
async function expectOpenError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const path = await writeFile('model.safetensors', bytes);
  await expectSafetensorsError(() => SafetensorsFile.open(path), pattern, path);
}

/** A header with one F32 tensor `t` of `shape` at `offsets`. */
function oneTensorHeader(shape: number[], offsets: [number, number]): string {
  return JSON.stringify({ t: { dtype: 'F32', shape, data_offsets: offsets } });
}

describe('SafetensorsFile', () => {
  it('decodes a file built by hand', async () => {
    const { bytes, headerLength, tensors } = handBuiltFile();
    const path = await writeFile('hand.safetensors', bytes);
    const file = await SafetensorsFile.open(path);
    try {
      expect(file.path).toBe(path);
      expect(file.metadata).toEqual({ format: 'pt' });
      expect(file.dataOffset).toBe(8 + headerLength);
      expect(file.names()).toEqual(['a.bias', 'b.weight', 'c.scale', 'd.ids', 'e.norm']);
      expect(file.info('d.ids')).toEqual({
        name: 'd.ids',
        dtype: 'i32',
        shape: [1, 2],
        file: path,
        byteOffset: 8 + headerLength + 13,
        byteLength: 8,
      });
      for (const [name, expected] of Object.entries(tensors)) expectSameTensor(await file.read(name), expected);
      expect(Array.from((await file.read('a.bias')).data)).toEqual([1.5, -2.25]);
      expect((await file.read('d.ids')).data).toBeInstanceOf(Int32Array);
    } finally {
      await file.close();
    }
  });

  it('reads every supported dtype back bit-exactly', async () => {
    const tensors = {
      f32: randomTensor('f32', [3, 5]),
      f16: randomTensor('f16', [7]),
      bf16: randomTensor('bf16', [2, 3, 2]),
      i8: randomTensor('i8', [9]),
      i32: randomTensor('i32', [4, 1]),
    };
    const path = await writeFile('random.safetensors', serializeSafetensors(tensors));
    const file = await SafetensorsFile.open(path);
    for (const [name, expected] of Object.entries(tensors)) expectSameTensor(await file.read(name), expected);
    await file.close();
  });

  it('reads only the prefix and the header at open', async () => {
    const big = randomTensor('f32', [4096]);
    const path = await writeFile('lazy.safetensors', serializeSafetensors({ big }));
    const reads: { position: number; length: number }[] = [];
    const realOpen = fsp.open.bind(fsp);
    vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args);
      const realRead = handle.read.bind(handle) as (...a: unknown[]) => Promise<{ bytesRead: number }>;
      vi.spyOn(handle, 'read').mockImplementation((async (...a: unknown[]) => {
        const result = await realRead(...a);
        reads.push({ position: a[3] as number, length: result.bytesRead });
        return result;
      }) as typeof handle.read);
      return handle;
    });
    const file = await SafetensorsFile.open(path);
    const bytesRead = reads.reduce((sum, r) => sum + r.length, 0);
    expect(bytesRead).toBe(file.dataOffset);
    expect(reads.every((r) => r.position + r.length <= file.dataOffset)).toBe(true);
    reads.length = 0;
    expectSameTensor(await file.read('big'), big);
    expect(reads).toEqual([{ position: file.dataOffset, length: big.byteLength }]);
    await file.close();
  });

  it('keeps tensors of unsupported dtypes but refuses to describe or read them', async () => {
    const header = JSON.stringify({
      'model.x.weight': { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
      'model.y.ids': { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
      'model.z': { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
    });
    const data = new Uint8Array(20);
    new DataView(data.buffer).setFloat32(16, 0.75, true);
    const path = await writeFile('mixed.safetensors', fileBytes(header, data));
    const file = await SafetensorsFile.open(path);
    expect(file.names()).toEqual(['model.x.weight', 'model.y.ids', 'model.z']);
    expect(file.has('model.x.weight')).toBe(true);
    const f64Message = `unsupported dtype F64 in tensor model.x.weight (file ${path})`;
    expect(() => file.info('model.x.weight')).toThrow(f64Message);
    await expect(file.read('model.x.weight')).rejects.toThrow(f64Message);
    expect(() => file.info('model.y.ids')).toThrow(`unsupported dtype I64 in tensor model.y.ids (file ${path})`);
    const readI64 = () => file.read('model.y.ids');
    await expectSafetensorsError(readI64, /unsupported dtype I64 in tensor model\.y\.ids/, path);
    expect(Array.from((await file.read('model.z')).data)).toEqual([0.75]);
    await file.close();
  });

  it('reports a missing tensor and reads after close', async () => {
    const path = await writeFile('one.safetensors', serializeSafetensors({ t: randomTensor('f32', [2]) }));
    const file = await SafetensorsFile.open(path);
    expect(file.info('nope')).toBeUndefined();
    const error = await expectSafetensorsError(() => file.read('nope'), /tensor nope not found/, path);
    expect(error.tensor).toBe('nope');
    expect(error.file).toBe(path);
    await file.close();
    await file.close();
    await expectSafetensorsError(() => file.read('t'), /cannot read tensor t: the file is closed/, path);
  });

  it('refuses a missing file and a big-endian host', async () => {
    const missing = nodePath.join(dir, 'absent.safetensors');
    await expectSafetensorsError(() => SafetensorsFile.open(missing), /cannot open: ENOENT/, missing);
    vi.spyOn(os, 'endianness').mockReturnValue('BE');
    await expectSafetensorsError(() => SafetensorsFile.open(missing), /this host is big-endian/, missing);
  });
});

describe('SafetensorsFile header validation', () => {
  it('refuses a file shorter than 8 bytes', async () => {
    const fiveBytes = Uint8Array.of(1, 2, 3, 4, 5);
    await expectOpenError(fiveBytes, /file is 5 bytes, shorter than the 8-byte header length prefix/);
  });

  it('refuses a header length of 0, past the file, or over the limit', async () => {
    await expectOpenError(fileBytes('', new Uint8Array(16)), /header length is 0/);
    await expectOpenError(
      fileBytes('{}', new Uint8Array(40), 1000),
      /header length 1000 is larger than the file \(50 bytes\)/,
    );
    const path = nodePath.join(dir, 'huge.safetensors');
    const declared = MAX_HEADER_BYTES + 1;
    await fsp.writeFile(path, fileBytes('{}', new Uint8Array(0), declared));
    await fsp.truncate(path, 8 + declared); // sparse: no 100 MB actually written
    await expectSafetensorsError(
      () => SafetensorsFile.open(path),
      /header length 100000001 exceeds the limit of 100000000 bytes/,
      path,
    );
  });

  it('refuses a header that is not UTF-8, not JSON, or not an object', async () => {
    const notUtf8 = fileBytes('{"a":1}');
    notUtf8[10] = 0xff;
    await expectOpenError(notUtf8, /header is not valid UTF-8/);
    await expectOpenError(fileBytes('{"t": {"dtype": "F32",'), /header is not valid JSON/);
    await expectOpenError(fileBytes('[1, 2]'), /header is not a JSON object \(got an array\)/);
  });

  it('refuses a truncated file at open', async () => {
    const whole = serializeSafetensors({ t: randomTensor('f32', [10]) });
    await expectOpenError(
      whole.subarray(0, whole.length - 3),
      /tensor t: data_offsets \[0, 40\] run past the end of the data section, which is 37 bytes/,
    );
  });

  it('refuses offsets past the end, reversed, or malformed', async () => {
    const data = new Uint8Array(8);
    await expectOpenError(fileBytes(oneTensorHeader([25], [0, 100]), data), /\[0, 100\] run past the end .* 8 bytes/);
    await expectOpenError(fileBytes(oneTensorHeader([0], [8, 4]), data), /data_offsets \[8, 4\] begin after end/);
    await expectOpenError(fileBytes(oneTensorHeader([2], [0, 8, 8] as never), data), /data_offsets must be two/);
    await expectOpenError(fileBytes(oneTensorHeader([2], [-1, 7]), data), /tensor t: data_offsets must be two/);
  });

  it('refuses a byte length that does not match shape x dtype size', async () => {
    await expectOpenError(
      fileBytes(oneTensorHeader([3], [0, 8]), new Uint8Array(8)),
      /tensor t: byte length 8 does not match shape \[3\] of F32, which needs 12 bytes/,
    );
    const unsupported = JSON.stringify({ t: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } });
    await expectOpenError(fileBytes(unsupported, new Uint8Array(8)), /byte length 8 .* F64, which needs 16 bytes/);
  });

  it('refuses overlapping tensors', async () => {
    const header = JSON.stringify({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    });
    await expectOpenError(fileBytes(header, new Uint8Array(12)), /tensors a \[0, 8\) and b \[4, 12\) overlap/);
  });

  it('refuses malformed entries and metadata', async () => {
    const data = new Uint8Array(8);
    await expectOpenError(fileBytes('{"t": 3}', data), /tensor t: header entry is not a JSON object/);
    const noDtype = JSON.stringify({ t: { shape: [2], data_offsets: [0, 8] } });
    await expectOpenError(fileBytes(noDtype, data), /tensor t: dtype is not a string/);
    const badShape = /tensor t: shape must be an array of non-negative integers/;
    await expectOpenError(fileBytes(oneTensorHeader([2.5], [0, 8]), data), badShape);
    await expectOpenError(fileBytes(oneTensorHeader([-2], [0, 8]), data), badShape);
    await expectOpenError(fileBytes('{"__metadata__": {"k": 1}}'), /__metadata__ value of key k is not a string/);
    await expectOpenError(fileBytes('{"__metadata__": []}'), /__metadata__ is not a JSON object/);
  });

  it('accepts empty tensors and an unknown future dtype', async () => {
    const header = JSON.stringify({
      empty: { dtype: 'F32', shape: [0, 4], data_offsets: [4, 4] },
      future: { dtype: 'F2_NEW', shape: [3], data_offsets: [0, 4] },
    });
    const path = await writeFile('edge.safetensors', fileBytes(header, new Uint8Array(4)));
    const file = await SafetensorsFile.open(path);
    expect((await file.read('empty')).shape).toEqual([0, 4]);
    expect(() => file.info('future')).toThrow(`unsupported dtype F2_NEW in tensor future (file ${path})`);
    await file.close();
  });
});
