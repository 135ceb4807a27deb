/**
 * Element types and exact conversions between them.
 *
 * Half-precision values (f16, bf16) are stored as their raw 16-bit patterns in a `Uint16Array`,
 * FP8 values (fp8e4m3, fp8e5m2: see fp8.ts) as their 8-bit codes in a `Uint8Array`; arithmetic
 * happens in f32 (the reference backend) after {@link decodeToF32}.
 */
import { f32ToFp8e4m3, f32ToFp8e5m2, fp8e4m3Table, fp8e5m2Table } from './fp8.js';

/** The element types Ignis tensors can hold. */
export type DType = 'f32' | 'f16' | 'bf16' | 'fp8e4m3' | 'fp8e5m2' | 'i8' | 'i32';

/** Facts about one dtype. */
export interface DTypeInfo {
  /** Bytes per element. */
  readonly bytes: number;
  /** True for floating-point types. */
  readonly isFloat: boolean;
}

/** Size and kind of every dtype. */
export const DTYPE_INFO: Readonly<Record<DType, DTypeInfo>> = {
  f32: { bytes: 4, isFloat: true },
  f16: { bytes: 2, isFloat: true },
  bf16: { bytes: 2, isFloat: true },
  fp8e4m3: { bytes: 1, isFloat: true },
  fp8e5m2: { bytes: 1, isFloat: true },
  i8: { bytes: 1, isFloat: false },
  i32: { bytes: 4, isFloat: false },
};

/** The typed array that holds each dtype's elements. */
export interface TypedArrayFor {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  fp8e4m3: Uint8Array;
  fp8e5m2: Uint8Array;
  i8: Int8Array;
  i32: Int32Array;
}

/** Any typed array a tensor may hold. */
export type TensorData = TypedArrayFor[DType];

/** True if `value` names a dtype. */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(DTYPE_INFO, value);
}

/** Bytes per element of `dtype`. */
export function dtypeBytes(dtype: DType): number {
  return DTYPE_INFO[dtype].bytes;
}

// One shared scratch word for bit casts: conversions never allocate per element.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The raw bits of `x` rounded to f32. */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

/** The f32 whose raw bits are `bits`. */
export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/** bf16 bits -> number (exact: bf16 is the top half of an f32). */
export function bf16ToF32(bits: number): number {
  return f32FromBits((bits & 0xffff) << 16);
}

/** number -> bf16 bits, rounding to nearest, ties to even; NaN stays NaN (quiet), infinities stay. */
export function f32ToBf16(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // keep sign, force a quiet NaN
  }
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** f16 bits -> number (exact). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * number -> f16 bits, rounding to nearest, ties to even, from the f32 value of `x` (as a cast of
 * an f32 tensor would); overflow gives infinity, NaN stays NaN.
 */
export function f32ToF16(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (halfExponent <= 0) {
    // Subnormal in f16 (or underflow to zero): shift the full significand into place.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const half = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const roundUp = remainder > halfway || (remainder === halfway && (half & 1) === 1);
    return sign | (half + (roundUp ? 1 : 0));
  }
  const half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1);
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (half + (roundUp ? 1 : 0));
}

/** Decodes `count` elements of `dtype` to f32. `out` is reused when given (no allocation). */
export function decodeToF32(data: TensorData, dtype: DType, out = new Float32Array(data.length)): Float32Array {
  if (out.length < data.length) {
    throw new RangeError(`decodeToF32: output holds ${out.length} elements, input has ${data.length}`);
  }
  const n = data.length;
  switch (dtype) {
    case 'f32':
    case 'i8':
    case 'i32':
      out.set(data);
      return out;
    case 'bf16': {
      const src = data as Uint16Array;
      // Widen through a Uint32 view of the output: bf16 bits are the top half of f32 bits.
      const bitsOut = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) bitsOut[i] = src[i]! << 16;
      return out;
    }
    case 'f16':
      return decodeWithTable(data as Uint16Array, f16Table(), out);
    case 'fp8e4m3':
      return decodeWithTable(data as Uint8Array, fp8e4m3Table(), out);
    case 'fp8e5m2':
      return decodeWithTable(data as Uint8Array, fp8e5m2Table(), out);
  }
}

function decodeWithTable(codes: Uint8Array | Uint16Array, table: Float32Array, out: Float32Array): Float32Array {
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]!]!;
  return out;
}

/**
 * Encodes f32 values as `dtype`: rounding to nearest even for float types (FP8 saturating at its
 * largest finite value), truncating toward zero for ints.
 */
export function encodeFromF32<D extends DType>(values: ArrayLike<number>, dtype: D): TypedArrayFor[D] {
  const n = values.length;
  switch (dtype) {
    case 'f32':
      return Float32Array.from(values) as TypedArrayFor[D];
    case 'bf16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToBf16(values[i]!);
      return out as TypedArrayFor[D];
    }
    case 'f16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16(values[i]!);
      return out as TypedArrayFor[D];
    }
    case 'fp8e4m3':
      return Uint8Array.from(values, f32ToFp8e4m3) as TypedArrayFor[D];
    case 'fp8e5m2':
      return Uint8Array.from(values, f32ToFp8e5m2) as TypedArrayFor[D];
    case 'i8':
      return Int8Array.from(values, Math.trunc) as TypedArrayFor[D];
    case 'i32':
      return Int32Array.from(values, Math.trunc) as TypedArrayFor[D];
    default:
      throw new TypeError(`unknown dtype ${String(dtype)}`);
  }
}

/** An empty typed array of the right kind for `dtype`. */
export function allocateData<D extends DType>(dtype: D, length: number): TypedArrayFor[D] {
  return viewData(dtype, new ArrayBuffer(length * dtypeBytes(dtype)), 0, length);
}

/** A typed-array view of `length` elements of `dtype` over `buffer` at `byteOffset`. */
export function viewData<D extends DType>(
  dtype: D,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TypedArrayFor[D] {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, byteOffset, length) as TypedArrayFor[D];
    case 'f16':
    case 'bf16':
      return new Uint16Array(buffer, byteOffset, length) as TypedArrayFor[D];
    case 'fp8e4m3':
    case 'fp8e5m2':
      return new Uint8Array(buffer, byteOffset, length) as TypedArrayFor[D];
    case 'i8':
      return new Int8Array(buffer, byteOffset, length) as TypedArrayFor[D];
    case 'i32':
      return new Int32Array(buffer, byteOffset, length) as TypedArrayFor[D];
    default:
      throw new TypeError(`unknown dtype ${String(dtype)}`);
  }
}

let f16Lookup: Float32Array | undefined;
/** All 65,536 f16 values as f32, built once on first use. */
function f16Table(): Float32Array {
  if (!f16Lookup) {
    f16Lookup = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Lookup[h] = f16ToF32(h);
  }
  return f16Lookup;
}
