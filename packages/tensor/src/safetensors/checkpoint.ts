import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import type { WeightSource } from '../backend.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { SafetensorsError, fileError } from './errors.js';
import { type TensorInfo, SafetensorsFile } from './reader.js';
import { SHARD_INDEX_FILE } from './writer.js';

const SINGLE_FILE = 'model.safetensors';
const EXTENSION = '.safetensors';

/**
 * The weights of one model, from a single .safetensors file or a directory laid out as Hugging Face
 * does (a sharded checkpoint with an index, one `model.safetensors`, or loose `*.safetensors` files).
 * Every file's header is validated at open; tensor data is read on demand.
 */
export class SafetensorsCheckpoint implements WeightSource {
  /** The file or directory this checkpoint was opened from. */
  readonly path: string;
  /** Every file the checkpoint reads from, in a stable order. */
  readonly files: string[];
  readonly #shards: readonly SafetensorsFile[];
  readonly #fileOf: ReadonlyMap<string, SafetensorsFile>;

  private constructor(path: string, shards: readonly SafetensorsFile[], fileOf: ReadonlyMap<string, SafetensorsFile>) {
    this.path = path;
    this.#shards = shards;
    this.#fileOf = fileOf;
    this.files = shards.map((shard) => shard.path);
  }

  /** Opens a .safetensors file or a checkpoint directory. */
  static async open(path: string): Promise<SafetensorsCheckpoint> {
    let isDirectory: boolean;
    try {
      isDirectory = (await fsp.stat(path)).isDirectory();
    } catch (cause) {
      throw fileError(path, `cannot open checkpoint: ${(cause as Error).message}`, undefined, cause);
    }
    if (!isDirectory) return SafetensorsCheckpoint.#fromFiles(path, [path]);
    const entries = await fsp.readdir(path);
    const inDir = (name: string): string => nodePath.join(path, name);
    if (entries.includes(SHARD_INDEX_FILE)) return SafetensorsCheckpoint.#fromIndex(path, inDir(SHARD_INDEX_FILE));
    if (entries.includes(SINGLE_FILE)) return SafetensorsCheckpoint.#fromFiles(path, [inDir(SINGLE_FILE)]);
    const loose = entries.filter((name) => name.endsWith(EXTENSION)).sort();
    if (loose.length > 0) return SafetensorsCheckpoint.#fromFiles(path, loose.map(inDir));
    throw new SafetensorsError(
      `no safetensors weights in ${path} (looked for ${SHARD_INDEX_FILE}, ${SINGLE_FILE}, *${EXTENSION})`,
      { file: path },
    );
  }

  /** Every tensor name, sorted. */
  names(): string[] {
    return [...this.#fileOf.keys()].sort();
  }

  /** dtype and shape of `name`, or undefined if absent; throws if its dtype is unsupported. */
  info(name: string): { readonly dtype: DType; readonly shape: readonly number[] } | undefined {
    const info = this.tensorInfo(name);
    return info && { dtype: info.dtype, shape: info.shape };
  }

  /** Where `name` lives (file and absolute byte range), or undefined if absent; throws if its dtype is unsupported. */
  tensorInfo(name: string): TensorInfo | undefined {
    return this.#fileOf.get(name)?.info(name);
  }

  /** The file range of `name`, for backends that read files directly (same as {@link tensorInfo}). */
  fileRange(name: string): TensorInfo | undefined {
    return this.tensorInfo(name);
  }

  /** Reads one tensor's data. */
  async read(name: string): Promise<Tensor> {
    const file = this.#fileOf.get(name);
    if (file === undefined) {
      throw new SafetensorsError(`tensor ${name} not found in ${this.files.join(', ')}`, {
        file: this.path,
        tensor: name,
      });
    }
    return file.read(name);
  }

  /** Closes every file. */
  async close(): Promise<void> {
    await Promise.all(this.#shards.map((shard) => shard.close()));
  }

  /** Every tensor of every file; a name found in two files is an error naming both. */
  static async #fromFiles(path: string, paths: readonly string[]): Promise<SafetensorsCheckpoint> {
    const shards = await openAll(paths);
    const fileOf = new Map<string, SafetensorsFile>();
    for (const shard of shards) {
      for (const name of shard.names()) {
        const other = fileOf.get(name);
        if (other !== undefined) {
          await closeAll(shards);
          throw new SafetensorsError(`tensor ${name} is in both ${other.path} and ${shard.path}`, {
            file: shard.path,
            tensor: name,
          });
        }
        fileOf.set(name, shard);
      }
    }
    return new SafetensorsCheckpoint(path, shards, fileOf);
  }

  /** Exactly the tensors the index's weight_map lists, each checked to be in its shard. */
  static async #fromIndex(dir: string, indexPath: string): Promise<SafetensorsCheckpoint> {
    const weightMap = await readWeightMap(indexPath);
    const shardNames = [...new Set(weightMap.values())].sort();
    for (const shardName of shardNames) await assertShardExists(nodePath.join(dir, shardName), indexPath);
    const shards = await openAll(shardNames.map((name) => nodePath.join(dir, name)));
    const shardByName = new Map(shardNames.map((name, i) => [name, shards[i]!]));
    const fileOf = new Map<string, SafetensorsFile>();
    for (const [tensor, shardName] of weightMap) {
      const shard = shardByName.get(shardName)!;
      if (!shard.has(tensor)) {
        await closeAll(shards);
        throw new SafetensorsError(`tensor ${tensor} listed in ${indexPath} is not in shard ${shard.path}`, {
          file: shard.path,
          tensor,
        });
      }
      fileOf.set(tensor, shard);
    }
    return new SafetensorsCheckpoint(dir, shards, fileOf);
  }
}

/** The index's weight_map (tensor name -> shard file name), validated. */
async function readWeightMap(indexPath: string): Promise<Map<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await fsp.readFile(indexPath, 'utf8'));
  } catch (cause) {
    throw fileError(indexPath, `cannot read index: ${(cause as Error).message}`, undefined, cause);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw fileError(indexPath, 'index has no "weight_map" object');
  }
  const entries = Object.entries(weightMap);
  if (entries.length === 0) throw fileError(indexPath, 'index weight_map lists no tensors');
  for (const [tensor, shard] of entries) {
    if (typeof shard !== 'string') {
      throw fileError(indexPath, `index weight_map entry for tensor ${tensor} is not a file name`, tensor);
    }
  }
  return new Map(entries as [string, string][]);
}

async function assertShardExists(shardPath: string, indexPath: string): Promise<void> {
  try {
    await fsp.access(shardPath);
  } catch (cause) {
    throw new SafetensorsError(`shard file ${shardPath} listed in ${indexPath} does not exist`, {
      file: shardPath,
      cause,
    });
  }
}

/** Opens every path; if one fails, closes those that opened and rethrows (no leaked handles). */
async function openAll(paths: readonly string[]): Promise<SafetensorsFile[]> {
  const results = await Promise.allSettled(paths.map((path) => SafetensorsFile.open(path)));
  const opened = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await closeAll(opened);
    throw failure.reason;
  }
  return opened;
}

async function closeAll(files: readonly SafetensorsFile[]): Promise<void> {
  await Promise.all(files.map((file) => file.close()));
}
