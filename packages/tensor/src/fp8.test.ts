import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeToF32, encodeFromF32, f32FromBits } from './dtype.js';
import { FP8_E4M3_MAX, FP8_E5M2_MAX, f32ToFp8e4m3, f32ToFp8e5m2, fp8e4m3ToF32, fp8e5m2ToF32 } from './fp8.js';

/** ml_dtypes' decoding of all 256 codes and its encoding of probe values (tooling/fixtures/make_fp8_codes.py). */
interface Reference {
  readonly values: readonly (number | string)[];
  readonly encoded: readonly [number, number][];
}
const reference = JSON.parse(readFileSync(new URL('./testdata/fp8-codes.json', import.meta.url), 'utf8')) as Record<'fp8e4m3' | 'fp8e5m2', Reference>;

const FORMATS = [
  { name: 'fp8e4m3', decode: fp8e4m3ToF32, encode: f32ToFp8e4m3, max: FP8_E4M3_MAX, maxCode: 0x7e },
  { name: 'fp8e5m2', decode: fp8e5m2ToF32, encode: f32ToFp8e5m2, max: FP8_E5M2_MAX, maxCode: 0x7b },
] as const;

const expected = (v: number | string): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number));

describe.each(FORMATS)('$name', (format) => {
  const ref = reference[format.name];

  it('decodes all 256 codes exactly as ml_dtypes does', () => {
    for (let code = 0; code < 256; code++) expect(format.decode(code), `code ${code}`).toStrictEqual(expected(ref.values[code]!));
  });

  it('encodes every midpoint, its neighbours and thousands of random values as ml_dtypes does (nearest, ties to even)', () => {
    expect(ref.encoded.length).toBeGreaterThan(8000);
    for (const [bits, code] of ref.encoded) expect(format.encode(f32FromBits(bits)), `f32 bits ${bits}`).toBe(code);
  });

  it('round-trips every non-NaN code', () => {
    for (let code = 0; code < 256; code++) {
      const value = format.decode(code);
      if (Number.isNaN(value) || !Number.isFinite(value)) continue;
      expect(format.encode(value)).toBe(code);
    }
  });

  it('saturates past the largest finite value, infinities included, and keeps NaN', () => {
    expect(format.decode(format.maxCode)).toBe(format.max);
    for (const big of [format.max * 1.5, format.max * 1e6, Infinity]) {
      expect(format.encode(big)).toBe(format.maxCode);
      expect(format.encode(-big)).toBe(format.maxCode | 0x80);
    }
    expect(Number.isNaN(format.decode(format.encode(NaN)))).toBe(true);
  });

  it('encodes and decodes whole arrays through the dtype codecs', () => {
    const values = [0, -0, 1, -2.5, 0.1, format.max, -1e9];
    const codes = encodeFromF32(values, format.name);
    expect(codes).toBeInstanceOf(Uint8Array);
    expect([...decodeToF32(codes, format.name)]).toStrictEqual(values.map((v) => format.decode(format.encode(v))));
  });
});
