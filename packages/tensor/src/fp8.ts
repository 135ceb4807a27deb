/**
 * The two 8-bit float formats of the OCP FP8 specification (what Hopper's tensor cores, PyTorch's
 * `float8_e4m3fn`/`float8_e5m2` and safetensors' `F8_E4M3`/`F8_E5M2` use):
 *
 * - e4m3 ("fn": finite, no infinities): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits;
 *   S.1111.111 is NaN, the largest finite value is 448, the smallest subnormal 2^-9.
 * - e5m2: 1 sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like with infinities;
 *   the largest finite value is 57344, the smallest subnormal 2^-16.
 *
 * Encoding rounds to nearest, ties to even, and saturates: magnitudes past the largest finite
 * value (infinities included) become it, as CUDA's `__nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...)`
 * does. Quantizers scale values into range first, so saturation only catches rounding at the edge.
 */

/** Layout of one FP8 format. */
interface Fp8Layout {
  readonly mantissaBits: number;
  readonly bias: number;
  /** The code of the largest finite positive value. */
  readonly maxCode: number;
  /** The code this library writes for NaN. */
  readonly nanCode: number;
  /** True when the all-ones exponent holds infinities and NaNs (e5m2); false when only S.1111.111 is NaN (e4m3). */
  readonly ieeeSpecials: boolean;
}

const E4M3: Fp8Layout = { mantissaBits: 3, bias: 7, maxCode: 0x7e, nanCode: 0x7f, ieeeSpecials: false };
const E5M2: Fp8Layout = { mantissaBits: 2, bias: 15, maxCode: 0x7b, nanCode: 0x7f, ieeeSpecials: true };

/** Largest finite e4m3 value. */
export const FP8_E4M3_MAX = 448;
/** Largest finite e5m2 value. */
export const FP8_E5M2_MAX = 57344;

function decode(code: number, layout: Fp8Layout): number {
  const m = layout.mantissaBits;
  const sign = code & 0x80 ? -1 : 1;
  const exponent = (code & 0x7f) >> m;
  const mantissa = code & ((1 << m) - 1);
  const maxExponent = (0x7f >> m);
  if (layout.ieeeSpecials && exponent === maxExponent) return mantissa === 0 ? sign * Infinity : NaN;
  if (!layout.ieeeSpecials && (code & 0x7f) === 0x7f) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - layout.bias - m);
  return sign * (1 + mantissa / (1 << m)) * 2 ** (exponent - layout.bias);
}

/** Rounds to the nearest integer, ties to even (x >= 0). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// One scratch word for the bit-level encoder (no allocation per element).
const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/**
 * Rounds on the f32 bit pattern: adding half an FP8 ulp minus one, plus the lowest kept bit, then
 * truncating, rounds to nearest even, and a carry out of the mantissa bumps the exponent exactly.
 */
function encode(x: number, layout: Fp8Layout): number {
  scratch[0] = x; // the f32 a kernel would convert
  const bits = scratchBits[0]!;
  const sign = (bits >>> 24) & 0x80;
  const magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) return layout.nanCode;
  const m = layout.mantissaBits;
  const shift = 23 - m;
  const f32Exponent = magnitude >>> 23;
  let code: number;
  if (f32Exponent >= 128 - layout.bias) {
    const rounded = magnitude + ((1 << (shift - 1)) - 1) + ((magnitude >>> shift) & 1);
    code = (rounded >>> shift) - ((127 - layout.bias) << m);
  } else {
    // Subnormal range: a multiple of the smallest subnormal; rounding up to 2^m lands on the first normal code.
    code = roundHalfEven(Math.abs(scratch[0]!) / 2 ** (1 - layout.bias - m));
  }
  return sign | Math.min(code, layout.maxCode);
}

let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

/** All 256 e4m3 codes as f32, built once. */
export function fp8e4m3Table(): Float32Array {
  e4m3Table ??= Float32Array.from({ length: 256 }, (_, code) => decode(code, E4M3));
  return e4m3Table;
}

/** All 256 e5m2 codes as f32, built once. */
export function fp8e5m2Table(): Float32Array {
  e5m2Table ??= Float32Array.from({ length: 256 }, (_, code) => decode(code, E5M2));
  return e5m2Table;
}

/** e4m3 code -> value (exact). */
export function fp8e4m3ToF32(code: number): number {
  return fp8e4m3Table()[code & 0xff]!;
}

/** e5m2 code -> value (exact). */
export function fp8e5m2ToF32(code: number): number {
  return fp8e5m2Table()[code & 0xff]!;
}

/** The f32 value of `x` -> e4m3 code, rounding to nearest even, saturating at ±448; NaN stays NaN. */
export function f32ToFp8e4m3(x: number): number {
  return encode(x, E4M3);
}

/** The f32 value of `x` -> e5m2 code, rounding to nearest even, saturating at ±57344; NaN stays NaN. */
export function f32ToFp8e5m2(x: number): number {
  return encode(x, E5M2);
}
