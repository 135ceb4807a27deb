import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';

/**
 * Paged causal attention (see `OP_DEFS.paged_attention`): writes this step's K/V rows into the
 * cache, then attends each new token to its sequence's cached prefix through the block table.
 * Scores and softmax in f64; every slot and block id is checked against the cache size.
 */
export const pagedAttention: KernelFactory = (ctx) => {
  const [qId, kId, vId, kcId, vcId, slotId, tableId, lensId, startId] = ctx.op.inputs as number[];
  const q = ctx.f32(qId!);
  const k = ctx.f32(kId!);
  const v = ctx.f32(vId!);
  const kCache = ctx.f32(kcId!);
  const vCache = ctx.f32(vcId!);
  const slots = ctx.i32(slotId!);
  const tables = ctx.i32(tableId!);
  const seqLens = ctx.i32(lensId!);
  const queryStart = ctx.i32(startId!);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const numHeads = ctx.op.attrs.numHeads as number;
  const numKvHeads = ctx.op.attrs.numKvHeads as number;
  const headDim = ctx.op.attrs.headDim as number;
  const scale = ctx.op.attrs.scale as number;
  const window = (ctx.op.attrs.slidingWindow as number | null) ?? Infinity;
  const blockSize = fixedDim(ctx, kcId!, 1);
  const numBlocks = kCache.length / (blockSize * numKvHeads * headDim);
  const numSlots = numBlocks * blockSize;
  const group = numHeads / numKvHeads;
  const kvWidth = numKvHeads * headDim;
  const qWidth = numHeads * headDim;
  let scores = new Float64Array(1024);
  const acc = new Float64Array(headDim);

  return (dims) => {
    const rows = dimOf(ctx, qId!, 0, dims);
    const numSeqs = dimOf(ctx, lensId!, 0, dims);
    const maxBlocks = dimOf(ctx, tableId!, 1, dims);
    for (let t = 0; t < rows; t++) {
      const slot = slots[t]!;
      if (slot < 0 || slot >= numSlots) throw new RangeError(`paged_attention: slot ${slot} is outside the cache [0, ${numSlots})`);
      kCache.set(k.subarray(t * kvWidth, (t + 1) * kvWidth), slot * kvWidth);
      vCache.set(v.subarray(t * kvWidth, (t + 1) * kvWidth), slot * kvWidth);
    }
    for (let s = 0; s < numSeqs; s++) {
      const first = queryStart[s]!;
      const last = queryStart[s + 1]!;
      const contextLen = seqLens[s]!;
      if (last - first > contextLen || contextLen > maxBlocks * blockSize) {
        throw new RangeError(`paged_attention: sequence ${s} has ${last - first} new tokens and context ${contextLen}`);
      }
      if (contextLen > scores.length) scores = new Float64Array(contextLen);
      const tableBase = s * maxBlocks;
      for (let t = first; t < last; t++) {
        const position = contextLen - (last - first) + (t - first);
        const start = Math.max(0, position + 1 - window);
        for (let h = 0; h < numHeads; h++) {
          const kvHead = Math.floor(h / group);
          const qBase = t * qWidth + h * headDim;
          let max = -Infinity;
          for (let j = start; j <= position; j++) {
            const kBase = cacheRow(tableBase, j) * kvWidth + kvHead * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[qBase + d]! * kCache[kBase + d]!;
            const score = dot * scale;
            scores[j] = score;
            if (score > max) max = score;
          }
          let total = 0;
          acc.fill(0);
          for (let j = start; j <= position; j++) {
            const p = Math.exp(scores[j]! - max);
            total += p;
            const vBase = cacheRow(tableBase, j) * kvWidth + kvHead * headDim;
            for (let d = 0; d < headDim; d++) acc[d] = acc[d]! + p * vCache[vBase + d]!;
          }
          for (let d = 0; d < headDim; d++) out[qBase + d] = acc[d]! / total;
        }
      }
    }
  };

  /** The cache row holding `position` of the sequence whose block table starts at `tableBase`. */
  function cacheRow(tableBase: number, position: number): number {
    const block = tables[tableBase + Math.floor(position / blockSize)]!;
    if (block < 0 || block >= numBlocks) {
      throw new RangeError(`paged_attention: block ${block} is outside the cache [0, ${numBlocks})`);
    }
    return block * blockSize + (position % blockSize);
  }
};
