import { describe, expect, it } from 'vitest';
import { bf16ToF32, decodeToF32, encodeFromF32, f16ToF32, f32Bits, f32FromBits, f32ToBf16, f32ToF16 } from './dtype.js';

describe('f16', () => {
  it('decodes hand-picked patterns', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16ToF32(0x7e00))).toBe(true);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
  });

  it('round-trips every non-NaN pattern exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exponent = (h >> 10) & 0x1f;
      if (exponent === 0x1f && (h & 0x3ff) !== 0) continue;
      expect(f32ToF16(f16ToF32(h))).toBe(h);
    }
  });

  it('rounds every midpoint to even and everything past it away', () => {
    // Adjacent positive finite f16 values a < b: their midpoint is exact in f32.
    for (let h = 0; h < 0x7bff; h++) {
      const a = f16ToF32(h);
      const b = f16ToF32(h + 1);
      const mid = (a + b) / 2;
      const even = h % 2 === 0 ? h : h + 1;
      expect(f32ToF16(mid)).toBe(even);
      expect(f32ToF16(f32FromBits(f32Bits(mid) + 1))).toBe(h + 1);
      expect(f32ToF16(f32FromBits(f32Bits(mid) - 1))).toBe(h);
      expect(f32ToF16(-mid)).toBe(even | 0x8000);
    }
  });

  it('overflows to infinity at the midpoint past the largest finite value', () => {
    expect(f32ToF16(65519.99)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(1e10)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(f32ToF16(2 ** -26)).toBe(0); // below half the smallest subnormal
    expect((f32ToF16(NaN) & 0x7c00) === 0x7c00 && (f32ToF16(NaN) & 0x3ff) !== 0).toBe(true);
  });
});

describe('bf16', () => {
  it('decodes and encodes hand-picked values', () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-2)).toBe(0xc000);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(f32ToBf16(3.4028234663852886e38)).toBe(0x7f80); // rounds up past the largest finite bf16
    const nan = f32ToBf16(NaN);
    expect(Number.isNaN(bf16ToF32(nan))).toBe(true);
  });

  it('rounds to nearest, ties to even, across many exponents', () => {
    for (let h = 0; h < 0x7f7f; h += 7) {
      const a = bf16ToF32(h);
      const b = bf16ToF32(h + 1);
      const mid = (a + b) / 2; // exact in f32: one more bit than bf16 holds
      const even = h % 2 === 0 ? h : h + 1;
      expect(f32ToBf16(mid)).toBe(even);
      expect(f32ToBf16(f32FromBits(f32Bits(mid) + 1))).toBe(h + 1);
      expect(f32ToBf16(f32FromBits(f32Bits(mid) - 1))).toBe(h);
      expect(f32ToBf16(-mid)).toBe(even | 0x8000);
    }
  });

  it('round-trips every non-NaN pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0) continue;
      expect(f32ToBf16(bf16ToF32(h))).toBe(h);
    }
  });
});

describe('bulk conversion', () => {
  it('decodes and encodes arrays of each float dtype', () => {
    const values = [0, 1, -1.5, 3.140625, 65504, -0.000061035156];
    for (const dtype of ['f16', 'bf16', 'f32'] as const) {
      const encoded = encodeFromF32(values, dtype);
      const decoded = decodeToF32(encoded, dtype);
      const unitRoundoff = { f16: 2 ** -11, bf16: 2 ** -8, f32: 2 ** -24 }[dtype];
      values.forEach((v, i) => expect(Math.abs(decoded[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * unitRoundoff));
    }
    expect(Array.from(decodeToF32(encodeFromF32([1, -2, 127], 'i8'), 'i8'))).toEqual([1, -2, 127]);
    expect(Array.from(decodeToF32(encodeFromF32([7, -9], 'i32'), 'i32'))).toEqual([7, -9]);
  });
});
