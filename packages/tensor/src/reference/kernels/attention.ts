import { f32ToFp8e4m3, fp8e4m3Table } from '../../fp8.js';
import type { DimSizes } from '../../graph/dims.js';
import { kvCacheScales } from '../../graph/ops.js';
import { type KernelContext, type KernelFactory, dimOf, fixedDim } from '../kernel.js';
import { rotateRow } from './rope.js';

/** Rows of a matrix inside a larger buffer: row t starts at `offset + t * stride`. */
interface Rows {
  data: Float32Array;
  offset: number;
  stride: number;
}

/** The attention op's configuration and its cache and metadata buffers, bound once. */
interface AttentionBinding {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  scale: number;
  /** An fp8e4m3 cache's scales (f32 values); 1 for a float cache. */
  kScale: number;
  vScale: number;
  /** The caches hold e4m3 values (stored here decoded, as f32: the scale is applied on read). */
  fp8: boolean;
  window: number;
  blockSize: number;
  kCache: Float32Array;
  vCache: Float32Array;
  slots: Int32Array;
  tables: Int32Array;
  seqLens: Int32Array;
  queryStart: Int32Array;
  out: Float32Array;
  /** Value ids whose dims give this step's sizes. */
  rowsId: number;
  tablesId: number;
  lensId: number;
}

function bindAttention(ctx: KernelContext, rowsId: number, cacheIds: readonly number[]): AttentionBinding {
  const [kcId, vcId, slotId, tableId, lensId, startId] = cacheIds as number[];
  const scales = kvCacheScales(ctx.op.attrs);
  return {
    numHeads: ctx.op.attrs.numHeads as number,
    numKvHeads: ctx.op.attrs.numKvHeads as number,
    headDim: ctx.op.attrs.headDim as number,
    scale: ctx.op.attrs.scale as number,
    kScale: Math.fround(scales.k),
    vScale: Math.fround(scales.v),
    fp8: ctx.plan.values[kcId!]!.dtype === 'fp8e4m3',
    window: (ctx.op.attrs.slidingWindow as number | null) ?? 0x3fffffff, // a small integer keeps the loops on integer indices
    blockSize: fixedDim(ctx, kcId!, 1),
    kCache: ctx.f32(kcId!),
    vCache: ctx.f32(vcId!),
    slots: ctx.i32(slotId!),
    tables: ctx.i32(tableId!),
    seqLens: ctx.i32(lensId!),
    queryStart: ctx.i32(startId!),
    out: ctx.f32(ctx.op.outputs[0]!),
    rowsId,
    tablesId: tableId!,
    lensId: lensId!,
  };
}

/**
 * Stores one K or V row in the cache at `at`: as it is, or (fp8) as the e4m3 value of
 * row / scale, the quotient rounded to f32 first as the CUDA kernels compute it (a quotient of
 * two f32 values rounded from f64 to f32 is the correctly rounded f32 quotient).
 */
function storeRow(cache: Float32Array, at: number, rows: Rows, t: number, width: number, fp8: boolean, scale: number): void {
  const from = rows.offset + t * rows.stride;
  if (!fp8) {
    cache.set(rows.data.subarray(from, from + width), at);
    return;
  }
  const e4m3 = fp8e4m3Table();
  for (let i = 0; i < width; i++) cache[at + i] = e4m3[f32ToFp8e4m3(rows.data[from + i]! / scale)]!;
}

/**
 * The attention core both ops share: writes this step's K/V rows into the cache, then attends
 * each new token to its sequence's cached prefix through the block table. Scores and softmax in
 * f64; every slot and block id is checked against the cache size. An fp8 cache's scales are
 * applied where they are exact math: kScale with the score scale, vScale on the output.
 */
function makeAttention(b: AttentionBinding, ctx: KernelContext): (q: Rows, k: Rows, v: Rows, dims: DimSizes) => void {
  const { numHeads, numKvHeads, headDim, window, blockSize, kCache, vCache, slots, tables, seqLens, queryStart, out } = b;
  const { fp8, kScale, vScale } = b;
  const scale = b.scale * kScale;
  const numBlocks = kCache.length / (blockSize * numKvHeads * headDim);
  const numSlots = numBlocks * blockSize;
  const group = numHeads / numKvHeads;
  const kvWidth = numKvHeads * headDim;
  const outWidth = numHeads * headDim;
  let scores = new Float64Array(1024);
  let rowBase = new Int32Array(1024); // per context position: where its K/V row starts in the cache
  const acc = new Float64Array(headDim);
  const qRow = new Float64Array(headDim);

  /** The cache row holding `position` of the sequence whose block table starts at `tableBase`. */
  const cacheRow = (tableBase: number, position: number): number => {
    const block = tables[tableBase + Math.floor(position / blockSize)]!;
    if (block < 0 || block >= numBlocks) throw new RangeError(`paged_attention: block ${block} is outside the cache [0, ${numBlocks})`);
    return block * blockSize + (position % blockSize);
  };

  return (q, k, v, dims) => {
    const rows = dimOf(ctx, b.rowsId, 0, dims);
    const numSeqs = dimOf(ctx, b.lensId, 0, dims);
    const maxBlocks = dimOf(ctx, b.tablesId, 1, dims);
    for (let t = 0; t < rows; t++) {
      const slot = slots[t]!;
      if (slot < 0 || slot >= numSlots) throw new RangeError(`paged_attention: slot ${slot} is outside the cache [0, ${numSlots})`);
      storeRow(kCache, slot * kvWidth, k, t, kvWidth, fp8, kScale);
      storeRow(vCache, slot * kvWidth, v, t, kvWidth, fp8, vScale);
    }
    for (let s = 0; s < numSeqs; s++) {
      const first = queryStart[s]!;
      const last = queryStart[s + 1]!;
      const contextLen = seqLens[s]!;
      if (last - first > contextLen || contextLen > maxBlocks * blockSize) {
        throw new RangeError(`paged_attention: sequence ${s} has ${last - first} new tokens and context ${contextLen}`);
      }
      if (contextLen > scores.length) {
        scores = new Float64Array(contextLen);
        rowBase = new Int32Array(contextLen);
      }
      const tableBase = s * maxBlocks;
      for (let j = 0; j < contextLen; j++) rowBase[j] = cacheRow(tableBase, j) * kvWidth;
      for (let t = first; t < last; t++) {
        const position = contextLen - (last - first) + (t - first);
        const start = Math.max(0, position + 1 - window);
        for (let h = 0; h < numHeads; h++) {
          const kvHead = Math.floor(h / group);
          const qBase = q.offset + t * q.stride + h * headDim;
          for (let d = 0; d < headDim; d++) qRow[d] = q.data[qBase + d]!;
          attendOne(qRow, kCache, vCache, rowBase, kvHead * headDim, start, position, scale, scores, acc);
          const oBase = t * outWidth + h * headDim;
          for (let d = 0; d < headDim; d++) out[oBase + d] = acc[d]! * vScale;
        }
      }
    }
  };
}

/**
 * One query row against context positions [start, position] of one KV head: softmax(q.K) V into
 * `acc`. A free function of typed arrays (not a closure over reassigned buffers) so the JIT
 * keeps its loops tight.
 */
function attendOne(
  qRow: Float64Array, kCache: Float32Array, vCache: Float32Array, rowBase: Int32Array, headOffset: number,
  start: number, position: number, scale: number, scores: Float64Array, acc: Float64Array,
): void { // prettier-ignore
  const headDim = qRow.length;
  let max = -Infinity;
  for (let j = start; j <= position; j++) {
    const kBase = rowBase[j]! + headOffset;
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += qRow[d]! * kCache[kBase + d]!;
    const score = dot * scale;
    scores[j] = score;
    if (score > max) max = score;
  }
  let total = 0;
  acc.fill(0);
  for (let j = start; j <= position; j++) {
    const p = Math.exp(scores[j]! - max);
    total += p;
    const vBase = rowBase[j]! + headOffset;
    for (let d = 0; d < headDim; d++) acc[d] = acc[d]! + p * vCache[vBase + d]!;
  }
  for (let d = 0; d < headDim; d++) acc[d] = acc[d]! / total;
}

/** `paged_attention`: q, k and v are separate [T, width] values. */
export const pagedAttention: KernelFactory = (ctx) => {
  const [qId, kId, vId, ...rest] = ctx.op.inputs as number[];
  const b = bindAttention(ctx, qId!, rest);
  const attend = makeAttention(b, ctx);
  const rows = (id: number, width: number): Rows => ({ data: ctx.f32(id), offset: 0, stride: width });
  const q = rows(qId!, b.numHeads * b.headDim);
  const k = rows(kId!, b.numKvHeads * b.headDim);
  const v = rows(vId!, b.numKvHeads * b.headDim);
  return (dims) => attend(q, k, v, dims);
};

/**
 * `paged_attention_qkv`: one [T, (H + 2 KV) * D] value holds q | k | v per row. q and k are
 * rotated into the first columns of each row of a private copy; v is read in place.
 */
export const pagedAttentionQkv: KernelFactory = (ctx) => {
  const [qkvId, posId, freqId, ...rest] = ctx.op.inputs as number[];
  const b = bindAttention(ctx, qkvId!, rest);
  const attend = makeAttention(b, ctx);
  const qkv = ctx.f32(qkvId!);
  const positions = ctx.i32(posId!);
  const invFreq = ctx.f32(freqId!);
  const qWidth = b.numHeads * b.headDim;
  const kvWidth = b.numKvHeads * b.headDim;
  const width = qWidth + 2 * kvWidth;
  const rotated = new Float32Array(qkv.length / width * (qWidth + kvWidth)); // q | k, rotated
  const half = invFreq.length;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  const q: Rows = { data: rotated, offset: 0, stride: qWidth + kvWidth };
  const k: Rows = { data: rotated, offset: qWidth, stride: qWidth + kvWidth };
  const v: Rows = { data: qkv, offset: qWidth + kvWidth, stride: width };
  return (dims) => {
    const rows = dimOf(ctx, qkvId!, 0, dims);
    for (let t = 0; t < rows; t++) {
      rotateRow(qkv, t * width, rotated, t * (qWidth + kvWidth), b.numHeads + b.numKvHeads, b.headDim, positions[t]!, invFreq, cos, sin);
    }
    attend(q, k, v, dims);
  };
};
