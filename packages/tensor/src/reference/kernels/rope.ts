import { type KernelFactory, dimOf } from '../kernel.js';

/**
 * Rotates `heads` heads of one row (rotate-half layout) from `src` at `srcOffset` into `dst` at
 * `dstOffset`. Angles and their cosines are rounded to f32 as Hugging Face computes them
 * (`inv_freq @ positions` in f32), so that positions far from zero still match. `cos` and `sin`
 * are scratch of inv_freq's length.
 */
export function rotateRow(
  src: Float32Array,
  srcOffset: number,
  dst: Float32Array,
  dstOffset: number,
  heads: number,
  headDim: number,
  position: number,
  invFreq: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const half = invFreq.length;
  for (let j = 0; j < half; j++) {
    const angle = Math.fround(position * invFreq[j]!);
    cos[j] = Math.cos(angle);
    sin[j] = Math.sin(angle);
  }
  for (let h = 0; h < heads; h++) {
    const s = srcOffset + h * headDim;
    const d = dstOffset + h * headDim;
    for (let j = 0; j < half; j++) {
      const a = src[s + j]!;
      const b = src[s + j + half]!;
      dst[d + j] = Math.fround(a * cos[j]!) - Math.fround(b * sin[j]!);
      dst[d + j + half] = Math.fround(b * cos[j]!) + Math.fround(a * sin[j]!);
    }
    for (let j = 2 * half; j < headDim; j++) dst[d + j] = src[s + j]!;
  }
}

/** The rope op: every row of x [T, heads * headDim] rotated by its position. */
export const rope: KernelFactory = (ctx) => {
  const [xId, posId, freqId] = ctx.op.inputs as [number, number, number];
  const x = ctx.f32(xId);
  const positions = ctx.i32(posId);
  const invFreq = ctx.f32(freqId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const numHeads = ctx.op.attrs.numHeads as number;
  const headDim = ctx.op.attrs.headDim as number;
  const width = numHeads * headDim;
  const cos = new Float32Array(invFreq.length);
  const sin = new Float32Array(invFreq.length);
  return (dims) => {
    const rows = dimOf(ctx, xId, 0, dims);
    for (let t = 0; t < rows; t++) rotateRow(x, t * width, out, t * width, numHeads, headDim, positions[t]!, invFreq, cos, sin);
  };
};
