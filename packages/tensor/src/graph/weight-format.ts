import type { DType } from '../dtype.js';
import type { Value } from './types.js';

/**
 * A weight carries its format: the dtype of its stored elements (the value's dtype) and, when
 * quantized, how those elements map to real values. Every quantized checkpoint format
 * (compressed-tensors, FP8 block, AWQ, GPTQ, ...) is loaded into this one representation, with
 * its scales as f32 companion tensors named after the weight (see {@link weightCompanions}).
 */
export interface WeightFormat {
  /** Which elements share a scale: real value = stored value x scale. */
  readonly scale: ScaleGranularity;
  /** How a `linear` reading this weight treats its float input. */
  readonly activation: ActivationQuantization;
  /**
   * Set when the checkpoint holds the weight unquantized, in this float dtype: the backend
   * quantizes it once at load, per output channel (scale = max |row| / the dtype's largest
   * finite value, so that the row's largest magnitude maps to it exactly).
   */
  readonly quantizeFrom?: DType;
}

/**
 * How many weight elements share one f32 scale, for a weight of N output rows and K input columns:
 * - `channel`: one per output row; the scale tensor is [N];
 * - `block`: one per `rows` x `cols` tile (DeepSeek's and Qwen3's 128 x 128); [ceil(N/rows), ceil(K/cols)];
 * - `group`: one per output row per `size` input columns (4-bit formats); [N, ceil(K/size)].
 */
export type ScaleGranularity =
  | { readonly kind: 'channel' }
  | { readonly kind: 'block'; readonly rows: number; readonly cols: number }
  | { readonly kind: 'group'; readonly size: number };

/**
 * What a quantized `linear` does with its float input x [T, K] before the product:
 * - `none`: nothing (weight-only formats: the product runs in x's dtype on dequantized weights);
 * - `fp8-token`: each row of x becomes e4m3 with its own scale s = max |row| / 448 (1 for a row
 *   of zeros), computed every step: code = e4m3(x / s), the division in f32 (vLLM's dynamic
 *   per-token scheme);
 * - `fp8-static`: all of x becomes e4m3 with the fixed scale of the weight's `input_scale`
 *   companion (a checkpoint's static per-tensor activation scale; saturating);
 * - `fp8-token-group`: like `fp8-token`, but one scale per row per group of the weight's block
 *   width (`block` formats only: the activation scales of DeepSeek-style block FP8).
 * The product is then out[t, n] = sum over k of codes x codes, in f32, times both scales.
 */
export type ActivationQuantization = 'none' | 'fp8-token' | 'fp8-static' | 'fp8-token-group';

/** The f32 tensors that travel with a quantized weight. */
export type CompanionRole = 'weight_scale' | 'input_scale';

/** One companion tensor of a weight: its role, and its shape for the weight's shape. */
export interface Companion {
  readonly role: CompanionRole;
  readonly shape: readonly number[];
}

/** The index in a weight's `weight_scale` companion of the scale of element (row, col), for a weight `cols` wide. */
export function scaleIndex(scale: ScaleGranularity, cols: number, row: number, col: number): number {
  if (scale.kind === 'channel') return row;
  if (scale.kind === 'block') return Math.floor(row / scale.rows) * Math.ceil(cols / scale.cols) + Math.floor(col / scale.cols);
  return row * Math.ceil(cols / scale.size) + Math.floor(col / scale.size);
}

/** The companions of a weight value ([] for an unquantized one), in a fixed order. */
export function weightCompanions(value: Pick<Value, 'shape' | 'format'>): Companion[] {
  const format = value.format;
  if (!format) return [];
  const [rows, cols] = value.shape as [number, number];
  const scale = format.scale;
  const shape =
    scale.kind === 'channel'
      ? [rows]
      : scale.kind === 'block'
        ? [Math.ceil(rows / scale.rows), Math.ceil(cols / scale.cols)]
        : [rows, Math.ceil(cols / scale.size)];
  const companions: Companion[] = [{ role: 'weight_scale', shape }];
  if (format.activation === 'fp8-static') companions.push({ role: 'input_scale', shape: [1] });
  return companions;
}

/**
 * The name a companion of checkpoint tensor `tensor` has in a weight source, as compressed-tensors
 * (and vLLM) name them: `x.weight` -> `x.weight_scale`, `x.input_scale`. Loaders of other
 * formats present their tensors under these names.
 */
export function companionName(tensor: string, role: CompanionRole): string {
  const prefix = tensor.endsWith('.weight') ? tensor.slice(0, -'.weight'.length) : tensor;
  return `${prefix}.${role}`;
}

/** True when two formats are the same (fusion passes only concatenate weights of one format). */
export function sameFormat(a: WeightFormat | undefined, b: WeightFormat | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** A one-line description of a weight's format, e.g. `fp8e4m3, channel scales, fp8-token activations`. */
export function describeFormat(dtype: DType, format: WeightFormat | undefined): string {
  if (!format) return dtype;
  const s = format.scale;
  const scale = s.kind === 'channel' ? 'channel scales' : s.kind === 'block' ? `${s.rows}x${s.cols} block scales` : `group-${s.size} scales`;
  const from = format.quantizeFrom ? `, quantized at load from ${format.quantizeFrom}` : '';
  return `${dtype}, ${scale}, ${format.activation} activations${from}`;
}
