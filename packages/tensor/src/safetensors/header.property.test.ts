import fsp from 'node:fs/promises';
import nodePath from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dtypeFromSafetensors, safetensorsDtypeBits } from './dtypes.js';
import { SafetensorsError } from './errors.js';
import { type ParsedHeader, parseHeader } from './header.js';
import { SafetensorsFile } from './reader.js';
import { fileBytes, makeTempDir } from './test-support.js';

/**
 * Property-based fuzzing of the header parser and of opening and reading whole files: random,
 * valid and mutated headers, lengths, offsets and dtypes. Whatever the bytes, the outcome is a
 * header that keeps every promise the reader relies on, or a SafetensorsError naming the file:
 * never another error type, a crash, a hang or an allocation larger than the file. Seeded, so
 * that CI runs the same cases every time (a failure prints its seed and shrunk case).
 */
const FILE = 'fuzz.safetensors';
const RUNS = { parse: 2000, files: 300 };

/** Dtype names: every one the format defines, and strings it does not. */
const DTYPE_NAMES = ['F32', 'F16', 'BF16', 'I8', 'I32', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'F4', 'F6_E2M3', 'C64'];
const dtypeName = fc.oneof(fc.constantFrom(...DTYPE_NAMES), fc.string({ maxLength: 6 }));

/** Numbers a hostile header may hold where a size or offset belongs. */
const hostileNumber = fc.oneof(
  fc.nat(64),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e300, -0, 0.5, 1.5),
  fc.double(),
);
/** Any JSON value, for fields of the wrong type. */
const junk = fc.oneof(hostileNumber, fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null), fc.array(hostileNumber, { maxLength: 3 }), fc.object({ maxDepth: 1 }));

interface Spec {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
}

/** Well-formed headers: tensors of small shapes laid out one after another, and the data length. */
const validHeader = fc
  .uniqueArray(
    fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), dtype: fc.constantFrom(...DTYPE_NAMES), shape: fc.array(fc.nat(6), { maxLength: 3 }) }),
    { selector: (s) => s.name, maxLength: 5 },
  )
  .map((specs: Spec[]) => {
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const { name, dtype, shape } of specs) {
      const bits = BigInt(safetensorsDtypeBits(dtype)!) * shape.reduce((n, d) => n * BigInt(d), 1n);
      const bytes = Number((bits + 7n) / 8n); // F4/F6 of an odd count: a length no shape matches, refused
      header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    return { header, dataLength: offset };
  });

/** One edit of a header object: a field set to junk or removed, an offset or a whole tensor moved, a stray key. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), entry: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets'), value: junk }),
  fc.record({ kind: fc.constant('dtype' as const), entry: fc.nat(), value: dtypeName }),
  fc.record({ kind: fc.constant('dim' as const), entry: fc.nat(), index: fc.nat(3), value: hostileNumber }),
  fc.record({ kind: fc.constant('offset' as const), entry: fc.nat(), index: fc.nat(1), delta: fc.integer({ min: -9, max: 9 }) }),
  fc.record({ kind: fc.constant('shift' as const), entry: fc.nat(), delta: fc.integer({ min: -9, max: 9 }) }), // onto a neighbour
  fc.record({ kind: fc.constant('delete' as const), entry: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets') }),
  fc.record({ kind: fc.constant('entry' as const), key: fc.oneof(fc.constantFrom('__metadata__', '__proto__', 'constructor'), fc.string({ maxLength: 3 })), value: junk }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** `header` with `edits` made, on a copy: fast-check reuses generated values while it shrinks. */
function mutated(header: Record<string, unknown>, edits: readonly Mutation[]): Record<string, unknown> {
  const copy = structuredClone(header);
  for (const m of edits) mutate(copy, m);
  return copy;
}

function mutate(header: Record<string, unknown>, m: Mutation): void {
  if (m.kind === 'entry') {
    Object.defineProperty(header, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    return;
  }
  const names = Object.keys(header);
  if (names.length === 0) return;
  const entry = header[names[m.entry % names.length]!];
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return;
  const fields = entry as Record<string, unknown>;
  if (m.kind === 'set') fields[m.field] = m.value;
  else if (m.kind === 'delete') delete fields[m.field];
  else if (m.kind === 'dtype') fields.dtype = m.value;
  else if (m.kind === 'dim' && Array.isArray(fields.shape)) (fields.shape as unknown[])[m.index] = m.value;
  else if (m.kind === 'offset' && Array.isArray(fields.data_offsets)) {
    const offsets = fields.data_offsets as number[];
    offsets[m.index] = (offsets[m.index] ?? 0) + m.delta;
  } else if (m.kind === 'shift' && Array.isArray(fields.data_offsets)) {
    fields.data_offsets = (fields.data_offsets as number[]).map((o) => o + m.delta);
  }
}

/** Byte-level damage to header text (none half the time): overwritten, inserted or removed bytes, a cut. */
const byteEdits = fc.oneof(
  fc.constant([]),
  fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set', 'insert', 'remove', 'cut') }), { minLength: 1, maxLength: 4 }),
);
/** Up to three edits of the header object (none a third of the time). */
const mutations = fc.oneof(fc.constant([]), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 3 }));
/** The data section's length off by a few bytes (exact half the time). */
const slack = fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 3 }));

function damage(text: string, edits: readonly { at: number; byte: number; op: string }[]): Uint8Array {
  const bytes = [...new TextEncoder().encode(text)];
  for (const { at, byte, op } of edits) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (op === 'set') bytes[i] = byte;
    else if (op === 'insert') bytes.splice(i, 0, byte);
    else if (op === 'remove') bytes.splice(i, 1);
    else bytes.length = i;
  }
  return Uint8Array.from(bytes);
}

/** What the reader relies on in a header it accepted, checked from scratch. */
function expectSound(parsed: ParsedHeader, dataLength: number): void {
  const live: [number, number][] = [];
  for (const e of parsed.entries) {
    expect(Number.isSafeInteger(e.begin) && Number.isSafeInteger(e.end) && e.begin >= 0 && e.begin <= e.end && e.end <= dataLength, e.name).toBe(true);
    expect(e.shape.every((d) => Number.isSafeInteger(d) && d >= 0), e.name).toBe(true);
    expect(e.dtype).toBe(dtypeFromSafetensors(e.dtypeName));
    const bits = safetensorsDtypeBits(e.dtypeName);
    if (bits !== undefined) expect(e.shape.reduce((n, d) => n * BigInt(d), 1n) * BigInt(bits), e.name).toBe(BigInt(e.end - e.begin) * 8n);
    if (e.end > e.begin) live.push([e.begin, e.end]);
  }
  live.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < live.length; i++) expect(live[i]![0]).toBeGreaterThanOrEqual(live[i - 1]![1]);
  expect(Object.values(parsed.metadata).every((v) => typeof v === 'string')).toBe(true);
}

/** Runs `action`: it must succeed (then `check` its result) or throw a SafetensorsError naming the file. */
async function soundOrSafetensorsError<T>(action: () => T | Promise<T>, check: (result: T) => void | Promise<void>, file = FILE): Promise<void> {
  let result: T;
  try {
    result = await action();
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    expect(error.message).toContain(file);
    return;
  }
  await check(result);
}

describe('the safetensors header parser, fuzzed', () => {
  it('random bytes: a SafetensorsError or a sound header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.nat(1000), (bytes, dataLength) =>
        soundOrSafetensorsError(() => parseHeader(bytes, FILE, dataLength), (parsed) => expectSound(parsed, dataLength)),
      ),
      { seed: 18, numRuns: RUNS.parse },
    );
  });

  it('valid headers, mutated field by field and byte by byte: a SafetensorsError or a sound header', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(validHeader, mutations, byteEdits, slack, async ({ header, dataLength }, edits, bytes, off) => {
        const length = Math.max(0, dataLength + off);
        await soundOrSafetensorsError(
          () => parseHeader(damage(JSON.stringify(mutated(header, edits)), bytes), FILE, length),
          (parsed) => {
            expectSound(parsed, length);
            accepted++;
          },
        );
      }),
      { seed: 18, numRuns: RUNS.parse },
    );
    expect(accepted).toBeGreaterThan(RUNS.parse / 20); // the valid path is exercised too, not only refusals
  });
});

describe('opening and reading whole files, fuzzed', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await makeTempDir()));
  afterAll(() => remove());

  it('any declared header length, header and data: open and every read succeed or throw a SafetensorsError', async () => {
    const declared = fc.oneof(fc.constant(undefined), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -3, max: 3 }));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(validHeader, mutations, byteEdits, declared, slack, async ({ header, dataLength }, edits, bytes, declaredLength, off) => {
        const text = new TextDecoder().decode(damage(JSON.stringify(mutated(header, edits)), bytes));
        const headerBytes = new TextEncoder().encode(text).length;
        const length = typeof declaredLength === 'number' ? Math.max(0, headerBytes + declaredLength) : declaredLength;
        const data = new Uint8Array(Math.max(0, dataLength + off)).map((_, i) => i);
        const path = nodePath.join(dir, `${run++}-${FILE}`);
        await fsp.writeFile(path, fileBytes(text, data, length));
        const size = (await fsp.stat(path)).size;
        await soundOrSafetensorsError(
          () => SafetensorsFile.open(path),
          async (file) => {
            try {
              expect(file.dataOffset).toBeLessThanOrEqual(size);
              for (const name of file.names()) {
                await soundOrSafetensorsError(
                  () => file.read(name),
                  (tensor) => expect(tensor.byteLength).toBe(file.info(name)!.byteLength),
                  path,
                );
              }
            } finally {
              await file.close();
            }
          },
          path,
        );
        await fsp.rm(path);
      }),
      { seed: 18, numRuns: RUNS.files },
    );
  });
});
