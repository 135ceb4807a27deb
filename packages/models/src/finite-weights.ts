import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  type FileRange,
  type Graph,
  type TensorData,
  type WeightSource,
  companionName,
  decodeToF32,
  dtypeBytes,
  firstNonFinite,
  viewData,
  weightCompanions,
  weightSlices,
} from '@ignis/tensor';
import { CheckpointError } from './errors.js';

/**
 * What the check at every load reads of each tensor: `runs` runs of `runBytes` bytes, the first
 * and last at its ends and the rest evenly between (a whole tensor when it is that small). About
 * 4 KiB a tensor, so 9 MB and some 9,000 small reads for a 405B model: cheap next to loading it.
 */
export const WEIGHT_SAMPLE = { runs: 8, runBytes: 512 } as const;

/** Bytes the full check reads at a time. */
const FULL_READ_BYTES = 64 << 20;

/** A run of consecutive elements of one tensor. */
export interface ElementRun {
  readonly start: number;
  readonly count: number;
}

/** The element runs the load-time sample reads from a tensor of `numel` elements of `elementBytes` bytes. */
export function sampleRuns(numel: number, elementBytes: number): ElementRun[] {
  const { runs, runBytes } = WEIGHT_SAMPLE;
  const perRun = Math.max(1, Math.floor(runBytes / elementBytes));
  if (numel <= runs * perRun) return [{ start: 0, count: numel }];
  return Array.from({ length: runs }, (_, k) => ({ start: Math.floor((k * (numel - perRun)) / (runs - 1)), count: perRun }));
}

function fullRuns(numel: number, elementBytes: number): ElementRun[] {
  const perRun = Math.floor(FULL_READ_BYTES / elementBytes);
  return Array.from({ length: Math.ceil(numel / perRun) }, (_, k) => ({ start: k * perRun, count: Math.min(perRun, numel - k * perRun) }));
}

/**
 * Checks that the tensors the weights of `graph` are assembled from (quantized ones' scales
 * included) hold no NaN or infinity, in the sample {@link WEIGHT_SAMPLE} of every tensor or, with
 * `full`, in every element (one more pass over the checkpoint's files). Throws a
 * {@link CheckpointError} naming the first bad tensor, its file's base name, the element and its
 * value. Synthetic weights are finite by construction and are not read.
 */
export async function checkFiniteWeights(graph: Graph, weights: WeightSource, options: { readonly full: boolean }): Promise<void> {
  const files = new Map<string, Promise<FileHandle>>();
  const names = new Set<string>();
  for (const value of graph.values) {
    if (value.kind !== 'weight') continue;
    for (const slice of weightSlices(value)) {
      names.add(slice.name);
      if (value.format && !value.format.quantizeFrom) for (const c of weightCompanions(value)) names.add(companionName(slice.name, c.role));
    }
  }
  try {
    for (const name of names) {
      if (weights.synthetic?.(name)) continue;
      const range = weights.fileRange?.(name);
      if (range) {
        if (!files.has(range.file)) files.set(range.file, openForCheck(range.file));
        await checkRange(name, range, await files.get(range.file)!, options.full);
      } else {
        const tensor = await weights.read(name);
        throwIfNonFinite(name, 'memory', tensor.data, tensor.dtype, 0, tensor.numel);
      }
    }
  } finally {
    await Promise.all([...files.values()].map(async (handle) => (await handle.catch(() => undefined))?.close()));
  }
}

async function openForCheck(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw new CheckpointError(`cannot open ${basename(file)} to check its weights: ${(error as Error).message}`);
  }
}

async function checkRange(name: string, range: FileRange, handle: FileHandle, full: boolean): Promise<void> {
  const elementBytes = dtypeBytes(range.dtype);
  const numel = range.byteLength / elementBytes;
  const runs = full ? fullRuns(numel, elementBytes) : sampleRuns(numel, elementBytes);
  const buffer = new ArrayBuffer(Math.max(...runs.map((r) => r.count)) * elementBytes);
  for (const run of runs) {
    const bytes = new Uint8Array(buffer, 0, run.count * elementBytes);
    const position = range.byteOffset + run.start * elementBytes;
    for (let done = 0; done < bytes.length; ) {
      const { bytesRead } = await handle.read(bytes, done, bytes.length - done, position + done);
      if (bytesRead === 0) throw new CheckpointError(`cannot check tensor ${name}: ${basename(range.file)} ended early (changed since it was opened?)`);
      done += bytesRead;
    }
    throwIfNonFinite(name, basename(range.file), viewData(range.dtype, buffer, 0, run.count), range.dtype, run.start, numel);
  }
}

function throwIfNonFinite(name: string, where: string, data: TensorData, dtype: FileRange['dtype'], firstElement: number, numel: number): void {
  const i = firstNonFinite(data, dtype);
  if (i < 0) return;
  const value = decodeToF32(data.subarray(i, i + 1), dtype)[0]!;
  throw new CheckpointError(`tensor ${name} in ${where} holds ${value} at element ${firstElement + i} of ${numel}: the checkpoint is corrupt`);
}
