import type { DType } from '../dtype.js';

/** The safetensors dtype string of each Ignis dtype. */
export const SAFETENSORS_DTYPE: Readonly<Record<DType, string>> = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
  fp8e4m3: 'F8_E4M3',
  fp8e5m2: 'F8_E5M2',
  i8: 'I8',
  i32: 'I32',
};

const DTYPE_BY_NAME: ReadonlyMap<string, DType> = new Map(
  Object.entries(SAFETENSORS_DTYPE).map(([dtype, name]) => [name, dtype as DType]),
);

/**
 * Bits per element of every dtype the format defines, ours or not: a tensor we cannot load still
 * has its byte length checked, so a corrupt header is caught at open time either way.
 */
const FORMAT_DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
]);

/** The Ignis dtype for a safetensors dtype string, or undefined if Ignis cannot hold it. */
export function dtypeFromSafetensors(name: string): DType | undefined {
  return DTYPE_BY_NAME.get(name);
}

/** Bits per element of a safetensors dtype string, or undefined for a dtype the format does not define. */
export function safetensorsDtypeBits(name: string): number | undefined {
  return FORMAT_DTYPE_BITS.get(name);
}
