/**
 * Shared by the safetensors tests (not exported from the package): temporary directories, random
 * tensors, a file built byte by byte without the writer, and error assertions.
 */
import { randomFillSync } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import nodePath from 'node:path';
import { expect } from 'vitest';
import { type DType, dtypeBytes, viewData } from '../dtype.js';
import { Tensor, numel } from '../tensor.js';
import { SafetensorsError } from './errors.js';

/** A fresh temporary directory; `remove()` deletes it and everything in it. */
export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(nodePath.join(os.tmpdir(), 'ignis-safetensors-'));
  return { dir, remove: () => fsp.rm(dir, { recursive: true, force: true }) };
}

/** A tensor of random bits (every pattern possible, NaNs included: round trips must be bit-exact). */
export function randomTensor(dtype: DType, shape: readonly number[]): Tensor {
  const buffer = new ArrayBuffer(numel(shape) * dtypeBytes(dtype));
  const bytes = new Uint8Array(buffer);
  do randomFillSync(bytes);
  while (bytes.length > 0 && bytes.every((b) => b === 0));
  return new Tensor(dtype, shape, viewData(dtype, buffer, 0, numel(shape)));
}

/** Asserts two tensors have the same dtype, shape and bytes. */
export function expectSameTensor(actual: Tensor, expected: Tensor): void {
  expect(actual.dtype).toBe(expected.dtype);
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.bytes()).toEqual(expected.bytes());
}

/** A file: the 8-byte little-endian `declaredLength` (default: the header's length), `header`, `data`. */
export function fileBytes(header: string, data: Uint8Array = new Uint8Array(0), declaredLength?: number | bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/**
 * A file written out by hand, independent of the writer: the header JSON as the reference
 * implementation prints it, padded with spaces to a multiple of 8, and the data set with a DataView.
 * f16, i32 and bf16 tensors sit at odd offsets on purpose, to check reads realign them.
 */
export function handBuiltFile(): { bytes: Uint8Array; headerLength: number; tensors: Record<string, Tensor> } {
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b.weight":{"dtype":"I8","shape":[3],"data_offsets":[8,11]},' +
    '"c.scale":{"dtype":"F16","shape":[],"data_offsets":[11,13]},' +
    '"d.ids":{"dtype":"I32","shape":[1,2],"data_offsets":[13,21]},' +
    '"e.norm":{"dtype":"BF16","shape":[2],"data_offsets":[21,25]}}';
  expect(json.length).toBe(332);
  const header = json + '    '; // 332 -> 336, the next multiple of 8
  const data = new DataView(new ArrayBuffer(25));
  data.setFloat32(0, 1.5, true);
  data.setFloat32(4, -2.25, true);
  data.setInt8(8, 1);
  data.setInt8(9, -2);
  data.setInt8(10, 127);
  data.setUint16(11, 0x3c00, true); // f16 1.0
  data.setInt32(13, -123456, true);
  data.setInt32(17, 0x7fffffff, true);
  data.setUint16(21, 0x3fc0, true); // bf16 1.5
  data.setUint16(23, 0xc010, true); // bf16 -2.25
  const tensors: Record<string, Tensor> = {
    'a.bias': new Tensor('f32', [2], Float32Array.of(1.5, -2.25)),
    'b.weight': new Tensor('i8', [3], Int8Array.of(1, -2, 127)),
    'c.scale': new Tensor('f16', [], Uint16Array.of(0x3c00)),
    'd.ids': new Tensor('i32', [1, 2], Int32Array.of(-123456, 0x7fffffff)),
    'e.norm': new Tensor('bf16', [2], Uint16Array.of(0x3fc0, 0xc010)),
  };
  return { bytes: fileBytes(header, new Uint8Array(data.buffer)), headerLength: 336, tensors };
}

/** Asserts `action` rejects with a SafetensorsError matching `pattern` whose message names `file`. */
export async function expectSafetensorsError(
  action: () => Promise<unknown>,
  pattern: RegExp,
  file: string,
): Promise<SafetensorsError> {
  const error = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  const safetensorsError = error as SafetensorsError;
  expect(safetensorsError.name).toBe('SafetensorsError');
  expect(safetensorsError.message).toMatch(pattern);
  expect(safetensorsError.message).toContain(file);
  return safetensorsError;
}
