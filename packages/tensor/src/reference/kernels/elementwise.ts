import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';

/** out = a + b. */
export const add: KernelFactory = (ctx) => {
  const [a, b] = ctx.op.inputs.map((id) => ctx.f32(id));
  const out = ctx.f32(ctx.op.outputs[0]!);
  const id = ctx.op.inputs[0]!;
  const width = fixedDim(ctx, id, 1);
  return (dims) => {
    const n = dimOf(ctx, id, 0, dims) * width;
    for (let i = 0; i < n; i++) out[i] = a![i]! + b![i]!;
  };
};

/** out = silu(gate) * up. */
export const siluMul: KernelFactory = (ctx) => {
  const [gate, up] = ctx.op.inputs.map((id) => ctx.f32(id));
  const out = ctx.f32(ctx.op.outputs[0]!);
  const id = ctx.op.inputs[0]!;
  const width = fixedDim(ctx, id, 1);
  return (dims) => {
    const n = dimOf(ctx, id, 0, dims) * width;
    for (let i = 0; i < n; i++) {
      // silu is computed in f32 by the reference (torch): round it before the product.
      const g = gate![i]!;
      out[i] = Math.fround(g / (1 + Math.exp(-g))) * up![i]!;
    }
  };
};

/** out = silu_mul(gate, up) for gate_up rows [gate | up] of width 2I. */
export const swiglu: KernelFactory = (ctx) => {
  const inputId = ctx.op.inputs[0]!;
  const gateUp = ctx.f32(inputId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const half = fixedDim(ctx, inputId, 1) / 2;
  return (dims) => {
    const rows = dimOf(ctx, inputId, 0, dims);
    for (let t = 0; t < rows; t++) {
      for (let i = 0; i < half; i++) {
        const g = gateUp[t * 2 * half + i]!;
        out[t * half + i] = Math.fround(g / (1 + Math.exp(-g))) * gateUp[t * 2 * half + half + i]!;
      }
    }
  };
};
