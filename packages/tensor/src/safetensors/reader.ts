import fsp, { type FileHandle } from 'node:fs/promises';
import { type DType, dtypeBytes, viewData } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { SafetensorsError, fileError } from './errors.js';
import { type HeaderEntry, type ParsedHeader, parseHeader } from './header.js';
import { assertLittleEndianHost } from './host.js';
import { readFully } from './io.js';

/** Where one tensor lives: absolute byte ranges, so a loader can read them straight into device memory. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  /** The file holding the tensor. */
  readonly file: string;
  /** Absolute offset of the first byte in the file (not relative to the data section). */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** Bytes of the little-endian u64 header length that starts every file. */
const PREFIX_BYTES = 8;
/** The reference implementation's limit: a larger header is corrupt or hostile, not a real checkpoint. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One open .safetensors file: the header is parsed at open, tensor data is read on demand. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute byte offset of the data section (8 + header length). */
  readonly dataOffset: number;
  readonly #handle: FileHandle;
  readonly #entries: ReadonlyMap<string, HeaderEntry>;
  #closed = false;

  private constructor(path: string, handle: FileHandle, dataOffset: number, header: ParsedHeader) {
    this.path = path;
    this.#handle = handle;
    this.dataOffset = dataOffset;
    this.metadata = header.metadata;
    this.#entries = new Map(header.entries.map((entry) => [entry.name, entry]));
  }

  /**
   * Opens `path` and validates its header, reading only the 8-byte prefix and the header. A tensor
   * of a dtype Ignis cannot hold does not fail the open; reading it or asking its info does.
   */
  static async open(path: string): Promise<SafetensorsFile> {
    assertLittleEndianHost(path);
    let handle: FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (cause) {
      throw fileError(path, `cannot open: ${(cause as Error).message}`, undefined, cause);
    }
    try {
      const { dataOffset, header } = await readHeader(handle, path);
      return new SafetensorsFile(path, handle, dataOffset, header);
    } catch (error) {
      await handle.close();
      if (error instanceof SafetensorsError) throw error;
      throw fileError(path, `cannot read header: ${(error as Error).message}`, undefined, error);
    }
  }

  /** Every tensor name in the file, sorted (including tensors of dtypes Ignis cannot hold). */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Whether the file holds a tensor named `name`, whatever its dtype. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Where `name` lives, or undefined if the file has no such tensor; throws if its dtype is unsupported. */
  info(name: string): TensorInfo | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.dtype === undefined) {
      throw fileError(this.path, `unsupported dtype ${entry.dtypeName} in tensor ${name}`, name);
    }
    return {
      name,
      dtype: entry.dtype,
      shape: [...entry.shape],
      file: this.path,
      byteOffset: this.dataOffset + entry.begin,
      byteLength: entry.end - entry.begin,
    };
  }

  /** Reads one tensor with a single positional read into a fresh (hence aligned) buffer. */
  async read(name: string): Promise<Tensor> {
    const info = this.info(name);
    if (info === undefined) throw fileError(this.path, `tensor ${name} not found`, name);
    if (this.#closed) throw fileError(this.path, `cannot read tensor ${name}: the file is closed`, name);
    const buffer = new ArrayBuffer(info.byteLength);
    let bytesRead: number;
    try {
      bytesRead = await readFully(this.#handle, new Uint8Array(buffer), info.byteOffset);
    } catch (cause) {
      throw fileError(this.path, `cannot read tensor ${name}: ${(cause as Error).message}`, name, cause);
    }
    if (bytesRead < info.byteLength) {
      throw fileError(
        this.path,
        `tensor ${name}: the file ended after ${bytesRead} of its ${info.byteLength} bytes ` +
          '(changed since it was opened?)',
        name,
      );
    }
    const length = info.byteLength / dtypeBytes(info.dtype);
    return new Tensor(info.dtype, info.shape, viewData(info.dtype, buffer, 0, length));
  }

  /** Closes the file; later reads fail. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}

async function readHeader(
  handle: FileHandle,
  path: string,
): Promise<{ dataOffset: number; header: ParsedHeader }> {
  const stats = await handle.stat();
  if (!stats.isFile()) throw fileError(path, 'not a regular file');
  const fileSize = stats.size;
  const prefix = new Uint8Array(PREFIX_BYTES);
  const prefixRead = await readFully(handle, prefix, 0);
  if (prefixRead < PREFIX_BYTES) {
    throw fileError(path, `file is ${fileSize} bytes, shorter than the 8-byte header length prefix`);
  }
  // Compared as a bigint first: a corrupt u64 need not fit in a double.
  const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
  if (headerLength === 0n) throw fileError(path, 'header length is 0');
  if (headerLength > BigInt(fileSize - PREFIX_BYTES)) {
    throw fileError(
      path,
      `header length ${headerLength} is larger than the file (${fileSize} bytes) minus the 8-byte prefix`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw fileError(path, `header length ${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  const headerRead = await readFully(handle, headerBytes, PREFIX_BYTES);
  if (headerRead < headerBytes.length) {
    throw fileError(path, `file ended after ${headerRead} of the header's ${headerBytes.length} bytes`);
  }
  const dataOffset = PREFIX_BYTES + headerBytes.length;
  return { dataOffset, header: parseHeader(headerBytes, path, fileSize - dataOffset) };
}
