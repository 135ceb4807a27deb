import type { Kernel, KernelContext, KernelFactory } from '../kernel.js';
import { dimOf, fixedDim } from '../kernel.js';

/** Normalizes `rows` rows of `src` into `out`, as Hugging Face's RMSNorm does in f32. */
function rmsnormRows(src: Float32Array, weight: Float32Array, out: Float32Array, rows: number, width: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let sumSquares = 0;
    for (let i = 0; i < width; i++) sumSquares += src[base + i]! * src[base + i]!;
    const inv = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(sumSquares / width) + eps)));
    for (let i = 0; i < width; i++) out[base + i] = weight[i]! * Math.fround(src[base + i]! * inv);
  }
}

function bindNorm(ctx: KernelContext, fused: boolean): Kernel {
  const ins = ctx.op.inputs;
  const x = ctx.f32(ins[0]!);
  const residual = fused ? ctx.f32(ins[1]!) : undefined;
  const weight = ctx.f32(ins[fused ? 2 : 1]!);
  const sum = fused ? ctx.f32(ctx.op.outputs[0]!) : undefined;
  const out = ctx.f32(ctx.op.outputs[fused ? 1 : 0]!);
  const width = fixedDim(ctx, ins[0]!, 1);
  const eps = ctx.op.attrs.eps as number;
  return (dims) => {
    const rows = dimOf(ctx, ins[0]!, 0, dims);
    if (sum && residual) {
      const n = rows * width;
      for (let i = 0; i < n; i++) sum[i] = x[i]! + residual[i]!;
      rmsnormRows(sum, weight, out, rows, width, eps);
    } else {
      rmsnormRows(x, weight, out, rows, width, eps);
    }
  };
}

/** out = rmsnorm(x) * weight. */
export const rmsnorm: KernelFactory = (ctx) => bindNorm(ctx, false);

/** sum = x + residual; out = rmsnorm(sum) * weight. */
export const addRmsnorm: KernelFactory = (ctx) => bindNorm(ctx, true);
