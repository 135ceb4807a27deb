import type { DType } from '../dtype.js';
import { dtypeFromSafetensors, safetensorsDtypeBits } from './dtypes.js';
import { fileError } from './errors.js';

/** One tensor's header entry, validated; offsets are relative to the data section. */
export interface HeaderEntry {
  readonly name: string;
  /** The dtype string as the file spells it (e.g. `BF16`, `F64`). */
  readonly dtypeName: string;
  /** The Ignis dtype, or undefined when Ignis cannot hold `dtypeName`. */
  readonly dtype: DType | undefined;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header: the free-form metadata and every tensor entry. */
export interface ParsedHeader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: readonly HeaderEntry[];
}

const METADATA_KEY = '__metadata__';

/**
 * Decodes and validates the JSON header of `file`, whose data section is `dataLength` bytes long.
 * Every entry's offsets, size and overlap are checked here, so that reads later never leave their
 * tensor's bytes and a truncated file fails at open time rather than mid-load.
 */
export function parseHeader(bytes: Uint8Array, file: string, dataLength: number): ParsedHeader {
  const root = decodeJsonObject(bytes, file);
  let metadata: Readonly<Record<string, string>> = Object.freeze({});
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, file, dataLength));
  }
  checkNoOverlap(entries, file);
  return { metadata, entries };
}

function decodeJsonObject(bytes: Uint8Array, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw fileError(file, 'header is not valid UTF-8', undefined, cause);
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (cause) {
    throw fileError(file, `header is not valid JSON: ${(cause as Error).message}`, undefined, cause);
  }
  if (!isPlainObject(root)) throw fileError(file, `header is not a JSON object (got ${describe(root)})`);
  return root;
}

function parseMetadata(value: unknown, file: string): Readonly<Record<string, string>> {
  if (!isPlainObject(value)) throw fileError(file, `${METADATA_KEY} is not a JSON object (got ${describe(value)})`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw fileError(file, `${METADATA_KEY} value of key ${key} is not a string (got ${describe(item)})`);
    }
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.freeze(Object.fromEntries(Object.entries(value as Record<string, string>)));
}

function parseEntry(name: string, value: unknown, file: string, dataLength: number): HeaderEntry {
  const fail = (problem: string): Error => fileError(file, `tensor ${name}: ${problem}`, name);
  if (!isPlainObject(value)) throw fail(`header entry is not a JSON object (got ${describe(value)})`);
  const { dtype: dtypeName, shape, data_offsets: offsets } = value;
  if (typeof dtypeName !== 'string') throw fail(`dtype is not a string (got ${describe(dtypeName)})`);
  if (!isIntegerArray(shape)) {
    throw fail(`shape must be an array of non-negative integers (got ${JSON.stringify(shape)})`);
  }
  if (!isIntegerArray(offsets) || offsets.length !== 2) {
    throw fail(`data_offsets must be two non-negative integers (got ${JSON.stringify(offsets)})`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(`data_offsets [${begin}, ${end}] begin after end`);
  if (end > dataLength) {
    throw fail(
      `data_offsets [${begin}, ${end}] run past the end of the data section, which is ${dataLength} bytes ` +
        '(is the file truncated?)',
    );
  }
  checkByteLength(dtypeName, shape, end - begin, fail);
  return { name, dtypeName, dtype: dtypeFromSafetensors(dtypeName), shape: Object.freeze([...shape]), begin, end };
}

function checkByteLength(dtypeName: string, shape: number[], byteLength: number, fail: (p: string) => Error): void {
  const bits = safetensorsDtypeBits(dtypeName);
  // A dtype newer than this table cannot be sized; it is recorded and refused when read.
  if (bits === undefined) return;
  // BigInt: the product of a hostile shape can exceed 2^53 and must not round into a match.
  const elements = shape.reduce((n, d) => n * BigInt(d), 1n);
  const expectedBits = elements * BigInt(bits);
  if (expectedBits !== BigInt(byteLength) * 8n) {
    throw fail(
      `byte length ${byteLength} does not match shape [${shape.join(', ')}] of ${dtypeName}, ` +
        `which needs ${formatBytes(expectedBits)} bytes (${elements} elements x ${bits} bits)`,
    );
  }
}

function checkNoOverlap(entries: readonly HeaderEntry[], file: string): void {
  // Empty tensors occupy no bytes, so they cannot overlap anything wherever their offsets point.
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.begin < previous.end) {
      throw fileError(
        file,
        `tensors ${previous.name} [${previous.begin}, ${previous.end}) and ` +
          `${current.name} [${current.begin}, ${current.end}) overlap`,
        current.name,
      );
    }
  }
}

function formatBytes(bits: bigint): string {
  return bits % 8n === 0n ? String(bits / 8n) : `${Number(bits) / 8} (not whole)`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntegerArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
