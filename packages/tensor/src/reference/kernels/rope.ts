import { type KernelFactory, dimOf } from '../kernel.js';

/**
 * Rotate-half rotary embedding. Angles and their cosines are rounded to f32 as Hugging Face
 * computes them (`inv_freq @ positions` in f32), so positions far from zero still match.
 */
export const rope: KernelFactory = (ctx) => {
  const [xId, posId, freqId] = ctx.op.inputs as [number, number, number];
  const x = ctx.f32(xId);
  const positions = ctx.i32(posId);
  const invFreq = ctx.f32(freqId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const numHeads = ctx.op.attrs.numHeads as number;
  const headDim = ctx.op.attrs.headDim as number;
  const half = invFreq.length;
  const width = numHeads * headDim;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  return (dims) => {
    const rows = dimOf(ctx, xId, 0, dims);
    for (let t = 0; t < rows; t++) {
      const p = positions[t]!;
      for (let j = 0; j < half; j++) {
        const angle = Math.fround(p * invFreq[j]!);
        cos[j] = Math.cos(angle);
        sin[j] = Math.sin(angle);
      }
      for (let h = 0; h < numHeads; h++) {
        const base = t * width + h * headDim;
        for (let j = 0; j < half; j++) {
          const a = x[base + j]!;
          const b = x[base + j + half]!;
          out[base + j] = Math.fround(a * cos[j]!) - Math.fround(b * sin[j]!);
          out[base + j + half] = Math.fround(b * cos[j]!) + Math.fround(a * sin[j]!);
        }
        for (let j = 2 * half; j < headDim; j++) out[base + j] = x[base + j]!;
      }
    }
  };
};
