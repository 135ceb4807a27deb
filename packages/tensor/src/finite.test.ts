import { describe, expect, it } from 'vitest';
import { encodeFromF32 } from './dtype.js';
import { firstNonFinite } from './finite.js';

/** Each float format's largest finite value and smallest subnormal. */
const EXTREMES = {
  f32: { largest: 3.4028234663852886e38, smallest: 1.4e-45 },
  f16: { largest: 65504, smallest: 5.96e-8 },
  bf16: { largest: 3.3895313892515355e38, smallest: 9.2e-41 },
} as const;

describe('firstNonFinite', () => {
  it.each(Object.entries(EXTREMES))('%s: finds NaN and both infinities anywhere, and passes every finite extreme', (name, { largest, smallest }) => {
    const dtype = name as keyof typeof EXTREMES;
    const finite = [0, -0, 1, -2.5, largest, -largest, smallest, -smallest];
    expect(firstNonFinite(encodeFromF32(finite, dtype), dtype)).toBe(-1);
    for (const special of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 3, finite.length]) {
        const values = [...finite.slice(0, at), special, ...finite.slice(at), special];
        expect({ special, at, found: firstNonFinite(encodeFromF32(values, dtype), dtype) }).toEqual({ special, at, found: at });
      }
    }
  });

  it('integer dtypes hold no non-finite values', () => {
    expect(firstNonFinite(Int8Array.of(-1, 127, -128), 'i8')).toBe(-1);
    expect(firstNonFinite(Int32Array.of(0x7fffffff, -1), 'i32')).toBe(-1);
  });
});
