import type { DType, TensorData } from './dtype.js';

/** The exponent bits of each half-precision format: all set means infinity or NaN. */
const HALF_EXPONENT: Readonly<Partial<Record<DType, number>>> = { f16: 0x7c00, bf16: 0x7f80 };

/**
 * The index of the first NaN or infinity among `data`'s elements, read as `dtype`, or -1 when
 * there is none (integer dtypes never have one). Half-precision elements are tested on their raw
 * bits, without decoding.
 */
export function firstNonFinite(data: TensorData, dtype: DType): number {
  if (dtype === 'f32') {
    const values = data as Float32Array;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
    return -1;
  }
  if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') {
    // e4m3 has only NaN (S.1111.111); e5m2 has infinities and NaNs in its all-ones exponent.
    const [mask, special] = dtype === 'fp8e4m3' ? [0x7f, 0x7f] : [0x7c, 0x7c];
    const codes = data as Uint8Array;
    for (let i = 0; i < codes.length; i++) if ((codes[i]! & mask) === special) return i;
    return -1;
  }
  const exponent = HALF_EXPONENT[dtype];
  if (exponent === undefined) return -1;
  const bits = data as Uint16Array;
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & exponent) === exponent) return i;
  return -1;
}
