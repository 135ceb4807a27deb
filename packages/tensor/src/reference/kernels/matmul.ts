import { evalDim } from '../../graph/dims.js';
import { scaleIndex } from '../../graph/weight-format.js';
import { type Kernel, type KernelContext, type KernelFactory, dimOf, fixedDim } from '../kernel.js';
import { quantizeRowsFp8 } from './quantize.js';

/** Rows of x processed against each block of weight rows while those rows are hot in cache. */
const ROW_BLOCK = 64;

/**
 * out[t, n] = sum_k x[t, k] * w[n, k] + bias[n], for x [T, K] and w [N, K] (both row-major, so
 * every dot product walks two contiguous rows). Accumulates in f64 (JavaScript numbers).
 *
 * Blocked for registers (2 rows of x by 4 rows of w per inner loop: 8 accumulators and 6 loads
 * for 8 multiply-adds) and for cache (ROW_BLOCK rows of x reused across all of w).
 */
export function matmulTransposed(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | undefined,
  out: Float32Array,
  T: number,
  N: number,
  K: number,
): void {
  for (let t0 = 0; t0 < T; t0 += ROW_BLOCK) {
    const t1 = Math.min(T, t0 + ROW_BLOCK);
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = n * K;
      const w1 = w0 + K;
      const w2 = w1 + K;
      const w3 = w2 + K;
      const b0 = bias ? bias[n]! : 0;
      const b1 = bias ? bias[n + 1]! : 0;
      const b2 = bias ? bias[n + 2]! : 0;
      const b3 = bias ? bias[n + 3]! : 0;
      let t = t0;
      for (; t + 2 <= t1; t += 2) {
        const xa = t * K;
        const xb = xa + K;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0; // prettier-ignore
        for (let k = 0; k < K; k++) {
          const u = x[xa + k]!;
          const v = x[xb + k]!;
          const p0 = w[w0 + k]!;
          const p1 = w[w1 + k]!;
          const p2 = w[w2 + k]!;
          const p3 = w[w3 + k]!;
          a0 += u * p0; a1 += u * p1; a2 += u * p2; a3 += u * p3; // prettier-ignore
          c0 += v * p0; c1 += v * p1; c2 += v * p2; c3 += v * p3; // prettier-ignore
        }
        const oa = t * N + n;
        const ob = oa + N;
        out[oa] = a0 + b0; out[oa + 1] = a1 + b1; out[oa + 2] = a2 + b2; out[oa + 3] = a3 + b3; // prettier-ignore
        out[ob] = c0 + b0; out[ob + 1] = c1 + b1; out[ob + 2] = c2 + b2; out[ob + 3] = c3 + b3; // prettier-ignore
      }
      for (; t < t1; t++) {
        const xa = t * K;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0; // prettier-ignore
        for (let k = 0; k < K; k++) {
          const u = x[xa + k]!;
          a0 += u * w[w0 + k]!;
          a1 += u * w[w1 + k]!;
          a2 += u * w[w2 + k]!;
          a3 += u * w[w3 + k]!;
        }
        const oa = t * N + n;
        out[oa] = a0 + b0; out[oa + 1] = a1 + b1; out[oa + 2] = a2 + b2; out[oa + 3] = a3 + b3; // prettier-ignore
      }
    }
    for (; n < N; n++) {
      const w0 = n * K;
      const b0 = bias ? bias[n]! : 0;
      for (let t = t0; t < t1; t++) {
        const xa = t * K;
        let a0 = 0;
        for (let k = 0; k < K; k++) a0 += x[xa + k]! * w[w0 + k]!;
        out[t * N + n] = a0 + b0;
      }
    }
  }
}

/** out = x @ weight^T (+ bias); a quantized weight runs as its format says (see `WeightFormat`). */
export const linear: KernelFactory = (ctx) => {
  const [xId, wId, biasId] = ctx.op.inputs as [number, number, number | undefined];
  const x = ctx.f32(xId);
  const bias = biasId === undefined ? undefined : ctx.f32(biasId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const N = fixedDim(ctx, wId, 0);
  const K = fixedDim(ctx, wId, 1);
  const format = ctx.plan.values[wId]!.format;
  if (format && format.activation !== 'none') return quantizedLinear(ctx, x, bias, out, N, K);
  // Weight-only formats compute on the dequantized weight (see bindWeight in backend.ts).
  const w = format ? ctx.dequantized(wId) : ctx.f32(wId);
  return (dims) => matmulTransposed(x, w, bias, out, dimOf(ctx, xId, 0, dims), N, K);
};

/**
 * W8A8 FP8: the input quantized per row (or per row and column group, or with a static scale),
 * the codes multiplied in f64 and rounded to f32 per group of columns, then scaled by the input's
 * and the weight's scales in f32 (the CUDA backend computes the same in another order).
 */
function quantizedLinear(ctx: KernelContext, x: Float32Array, bias: Float32Array | undefined, out: Float32Array, N: number, K: number): Kernel {
  const [xId, wId] = ctx.op.inputs as [number, number];
  const weight = ctx.plan.values[wId]!;
  const format = weight.format!;
  const codes = ctx.f32(wId);
  const weightScale = ctx.companion(wId, 'weight_scale');
  const staticScale = format.activation === 'fp8-static' ? ctx.companion(wId, 'input_scale')[0] : undefined;
  const scale = format.scale;
  if (scale.kind === 'group') throw new TypeError(`linear: ${weight.name} has group scales, which need weight-only activations`);
  const group = format.activation === 'fp8-token-group' && scale.kind === 'block' ? scale.cols : K;
  const groups = Math.ceil(K / group);
  const capacity = evalDim(ctx.plan.values[xId]!.shape[0]!, ctx.plan.maxDims);
  const xCodes = new Float32Array(capacity * K);
  const xScales = new Float32Array(capacity * groups);
  const weightScaleOf = (n: number, g: number): number => weightScale[scaleIndex(scale, K, n, g * group)]!;
  if (scale.kind === 'block' && group % scale.cols !== 0 && group !== K) throw new TypeError(`linear: ${weight.name}: activation groups must cover whole weight blocks`);
  if (scale.kind === 'block' && group === K && Math.ceil(K / scale.cols) > 1) {
    throw new TypeError(`linear: ${weight.name} has several column blocks; its activations must be quantized per group (fp8-token-group)`);
  }
  return (dims) => {
    const T = dimOf(ctx, xId, 0, dims);
    quantizeRowsFp8(x, T, K, group, xCodes, xScales, staticScale);
    if (groups === 1) {
      // One group: the blocked matmul of the codes (f64 sums rounded to f32), then the scales.
      matmulTransposed(xCodes, codes, undefined, out, T, N, K);
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          const scaled = Math.fround(out[t * N + n]! * Math.fround(xScales[t]! * weightScaleOf(n, 0)));
          out[t * N + n] = bias ? Math.fround(scaled + bias[n]!) : scaled;
        }
      }
      return;
    }
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let g = 0; g < groups; g++) {
          let acc = 0;
          const end = Math.min(K, (g + 1) * group);
          for (let k = g * group; k < end; k++) acc += xCodes[t * K + k]! * codes[n * K + k]!;
          sum = Math.fround(sum + Math.fround(Math.fround(acc) * Math.fround(xScales[t * groups + g]! * weightScaleOf(n, g))));
        }
        out[t * N + n] = bias ? Math.fround(sum + bias[n]!) : sum;
      }
    }
  };
}
