import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';

/** out[i] = table[ids[i]], with every id checked against the table size. */
export const embedding: KernelFactory = (ctx) => {
  const [idsId, tableId] = ctx.op.inputs as [number, number];
  const ids = ctx.i32(idsId);
  const table = ctx.f32(tableId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const vocab = fixedDim(ctx, tableId, 0);
  const width = fixedDim(ctx, tableId, 1);
  return (dims) => {
    const n = dimOf(ctx, idsId, 0, dims);
    for (let t = 0; t < n; t++) {
      const id = ids[t]!;
      if (id < 0 || id >= vocab) throw new RangeError(`embedding: token id ${id} is outside the vocabulary [0, ${vocab})`);
      out.set(table.subarray(id * width, (id + 1) * width), t * width);
    }
  };
};

/** out[r] = x[indices[r]]. */
export const gatherRows: KernelFactory = (ctx) => {
  const [xId, indicesId] = ctx.op.inputs as [number, number];
  const x = ctx.f32(xId);
  const indices = ctx.i32(indicesId);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const width = fixedDim(ctx, xId, 1);
  return (dims) => {
    const rows = dimOf(ctx, xId, 0, dims);
    const n = dimOf(ctx, indicesId, 0, dims);
    for (let r = 0; r < n; r++) {
      const row = indices[r]!;
      if (row < 0 || row >= rows) throw new RangeError(`gather_rows: row ${row} is outside [0, ${rows})`);
      out.set(x.subarray(row * width, (row + 1) * width), r * width);
    }
  };
};
