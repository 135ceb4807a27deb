import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import type { Tensor } from '../tensor.js';
import { SAFETENSORS_DTYPE } from './dtypes.js';
import { fileError } from './errors.js';
import { assertLittleEndianHost } from './host.js';
import { writeFully } from './io.js';

/** The file name Hugging Face gives the index of a sharded checkpoint. */
export const SHARD_INDEX_FILE = 'model.safetensors.index.json';

/** Options of {@link writeShardedSafetensors}. */
export interface ShardOptions {
  /** Most data bytes per shard; a single tensor larger than this gets a shard of its own. */
  readonly maxShardBytes: number;
}

/** Where each tensor goes: the encoded prefix + header, then the data section in this order. */
interface Layout {
  readonly head: Uint8Array;
  readonly tensors: readonly { readonly name: string; readonly tensor: Tensor; readonly begin: number }[];
  readonly dataLength: number;
}

/** Label for errors about a buffer that is not (yet) a file. */
const IN_MEMORY = '<in-memory safetensors>';

/**
 * Encodes `tensors` as one safetensors file: tensors in sorted name order, data contiguous, the
 * header padded with spaces to a multiple of 8 bytes as the reference implementation does (so
 * the data section starts 8-byte aligned, which readers that map the file rely on).
 */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndianHost(IN_MEMORY);
  const layout = layoutFile(tensors, metadata, IN_MEMORY);
  const out = new Uint8Array(layout.head.length + layout.dataLength);
  out.set(layout.head, 0);
  for (const { tensor, begin } of layout.tensors) out.set(tensor.bytes(), layout.head.length + begin);
  return out;
}

/** Writes `tensors` to `path` as one safetensors file, tensor by tensor (never one big buffer). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  assertLittleEndianHost(path);
  const layout = layoutFile(tensors, metadata, path);
  const handle = await fsp.open(path, 'w');
  try {
    await writeFully(handle, layout.head, 0);
    for (const { tensor, begin } of layout.tensors) {
      await writeFully(handle, tensor.bytes(), layout.head.length + begin);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes `tensors` into `dir` as Hugging Face does: `model-00001-of-0000N.safetensors` shards of at
 * most `maxShardBytes` data bytes each (filled in sorted name order), plus `model.safetensors.index.json`
 * mapping every tensor to its shard. Always writes an index, even for one shard. Returns the
 * paths written: the shards in order, then the index.
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: Record<string, Tensor>,
  options: ShardOptions,
): Promise<string[]> {
  const { maxShardBytes } = options;
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
    throw fileError(dir, `maxShardBytes must be a positive integer (got ${maxShardBytes})`);
  }
  const groups = groupIntoShards(tensors, maxShardBytes);
  if (groups.length === 0) throw fileError(dir, 'no tensors to write');
  await fsp.mkdir(dir, { recursive: true });
  const count = String(groups.length).padStart(5, '0');
  const weightMap: [string, string][] = [];
  const written: string[] = [];
  let totalSize = 0;
  for (const [i, names] of groups.entries()) {
    const shardName = `model-${String(i + 1).padStart(5, '0')}-of-${count}.safetensors`;
    const shard = Object.fromEntries(names.map((name) => [name, tensors[name]!]));
    await writeSafetensors(nodePath.join(dir, shardName), shard);
    written.push(nodePath.join(dir, shardName));
    for (const name of names) {
      weightMap.push([name, shardName]);
      totalSize += tensors[name]!.byteLength;
    }
  }
  const index = { metadata: { total_size: totalSize }, weight_map: Object.fromEntries(weightMap) };
  const indexPath = nodePath.join(dir, SHARD_INDEX_FILE);
  await fsp.writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
  written.push(indexPath);
  return written;
}

/** Sorted names split greedily: a new shard starts when the next tensor would overflow the current one. */
function groupIntoShards(tensors: Record<string, Tensor>, maxShardBytes: number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let currentBytes = 0;
  for (const name of Object.keys(tensors).sort()) {
    const bytes = tensors[name]!.byteLength;
    if (current.length > 0 && currentBytes + bytes > maxShardBytes) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(name);
    currentBytes += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function layoutFile(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> | undefined,
  file: string,
): Layout {
  // Built entry by entry: a JS object would reorder integer-like tensor names ahead of the rest.
  const jsonEntries: string[] = [];
  if (metadata !== undefined) jsonEntries.push(`"__metadata__":${metadataJson(metadata, file)}`);
  const placed: { name: string; tensor: Tensor; begin: number }[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    if (name === '__metadata__') throw fileError(file, 'a tensor cannot be named __metadata__', name);
    const tensor = tensors[name]!;
    const entry = {
      dtype: SAFETENSORS_DTYPE[tensor.dtype],
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.byteLength],
    };
    jsonEntries.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    placed.push({ name, tensor, begin: offset });
    offset += tensor.byteLength;
  }
  const json = new TextEncoder().encode(`{${jsonEntries.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  return { head, tensors: placed, dataLength: offset };
}

function metadataJson(metadata: Record<string, string>, file: string): string {
  const entries = Object.entries(metadata);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw fileError(file, `__metadata__ value of key ${key} is not a string`);
  }
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}
