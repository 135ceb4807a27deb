import type { Value } from '@ignis/tensor';
import { randomValues } from '@ignis/tensor/testing';
import type { CaseStep, OpCase } from '../../src/harness/case.js';

interface Scenario {
  heads: number;
  kvHeads: number;
  headDim: number;
  blockSize: number;
  window: number | null;
  /** Per sequence, its new tokens in each step (0: not in that step). */
  seqs: number[][];
  /** paged_attention_qkv: packed q|k|v rows, rotated by position inside the op. */
  packed?: boolean;
  /** An fp8e4m3 KV cache with these scales (else the activation dtype's). */
  fp8?: { kScale: number; vScale: number };
}

/**
 * paged_attention over several steps: the cache carries each sequence's prefix from step to
 * step, block tables are scattered, and steps mix prefill, chunked prefill and decode.
 */
/** Every block id of a pool of `numBlocks` but the null block 0, shuffled, so that block tables are not contiguous. */
export function shuffledBlockIds(random: () => number, numBlocks: number): number[] {
  const ids = Array.from({ length: numBlocks - 1 }, (_, i) => i + 1);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

function attentionCase(name: string, s: Scenario): OpCase {
  const steps = s.seqs[0]!.length;
  const totals = s.seqs.map((chunks) => chunks.reduce((a, b) => a + b, 0));
  const maxBlocks = Math.max(...totals.map((t) => Math.ceil(t / s.blockSize)));
  const numBlocks = 1 + totals.reduce((a, t) => a + Math.ceil(t / s.blockSize), 0);
  const maxTokens = Math.max(...Array.from({ length: steps }, (_, i) => s.seqs.reduce((a, c) => a + c[i]!, 0)));
  const qWidth = s.heads * s.headDim;
  const kvWidth = s.kvHeads * s.headDim;
  return {
    kernel: 'attention',
    name: `${s.packed ? 'paged_attention_qkv' : 'paged_attention'} ${name}`,
    build: (b, dtype) => {
      const cache = (n: string) => b.state(n, s.fp8 ? 'fp8e4m3' : dtype, ['NB', s.blockSize, s.kvHeads, s.headDim]);
      const attrs = { numHeads: s.heads, numKvHeads: s.kvHeads, headDim: s.headDim, scale: 1 / Math.sqrt(s.headDim), slidingWindow: s.window, ...s.fp8 };
      const metadata = [
        cache('k_cache'),
        cache('v_cache'),
        b.input('slots', 'i32', ['T']),
        b.input('tables', 'i32', ['S', 'MB']),
        b.input('lens', 'i32', ['S']),
        b.input('starts', 'i32', ['S+1']),
      ];
      if (s.packed) {
        const freqs = Array.from({ length: s.headDim / 2 }, (_, j) => Math.fround(1 / 10000 ** (j / (s.headDim / 2))));
        const qkv = b.input('qkv', dtype, ['T', qWidth + 2 * kvWidth]);
        const [out] = b.op('paged_attention_qkv', 'out', [qkv, b.input('pos', 'i32', ['T']), b.constant('f', 'f32', [freqs.length], freqs), ...metadata], attrs);
        b.output('out', out!);
        return;
      }
      const [kCache, vCache, slotMapping, blockTables, seqLens, queryStart] = metadata as [Value, Value, Value, Value, Value, Value];
      const q = b.input('q', dtype, ['T', qWidth]);
      const k = b.input('k', dtype, ['T', kvWidth]);
      const v = b.input('v', dtype, ['T', kvWidth]);
      b.output('out', b.pagedAttention('out', { q, k, v, kCache, vCache, slotMapping, blockTables, seqLens, queryStart }, attrs));
    },
    maxDims: { T: maxTokens, S: s.seqs.length, MB: maxBlocks },
    loadDims: { NB: numBlocks },
    weights: () => ({}),
    steps: (random) => {
      const ids = shuffledBlockIds(random, numBlocks);
      const tables = totals.map((t) => ids.splice(0, Math.ceil(t / s.blockSize)));
      const done = s.seqs.map(() => 0);
      const interleave = (q: Float32Array, k: Float32Array, v: Float32Array, T: number): Float32Array => {
        const rows = new Float32Array(T * (qWidth + 2 * kvWidth));
        for (let t = 0; t < T; t++) {
          const at = t * (qWidth + 2 * kvWidth);
          rows.set(q.subarray(t * qWidth, (t + 1) * qWidth), at);
          rows.set(k.subarray(t * kvWidth, (t + 1) * kvWidth), at + qWidth);
          rows.set(v.subarray(t * kvWidth, (t + 1) * kvWidth), at + qWidth + kvWidth);
        }
        return rows;
      };
      const result: CaseStep[] = [];
      for (let step = 0; step < steps; step++) {
        const active = s.seqs.map((chunks, i) => ({ i, n: chunks[step]! })).filter((a) => a.n > 0);
        const T = active.reduce((a, x) => a + x.n, 0);
        const slots: number[] = [];
        const positions: number[] = [];
        const starts = [0];
        const lens: number[] = [];
        const table = new Int32Array(active.length * maxBlocks);
        active.forEach(({ i, n }, row) => {
          for (let j = 0; j < n; j++) {
            const p = done[i]! + j;
            positions.push(p);
            slots.push(tables[i]![Math.floor(p / s.blockSize)]! * s.blockSize + (p % s.blockSize));
          }
          done[i]! += n;
          lens.push(done[i]!);
          starts.push(starts[row]! + n);
          table.set(tables[i]!, row * maxBlocks);
        });
        const [q, k, v] = [randomValues(random, T * qWidth), randomValues(random, T * kvWidth), randomValues(random, T * kvWidth)];
        const metadata = { slots: Int32Array.from(slots), tables: table, lens: Int32Array.from(lens), starts: Int32Array.from(starts) };
        result.push({
          dims: { T, S: active.length, MB: maxBlocks },
          inputs: s.packed ? { qkv: interleave(q, k, v, T), pos: Int32Array.from(positions), ...metadata } : { q, k, v, ...metadata },
        });
      }
      return result;
    },
    // fp8 packed, f32: a rotated k within an f32 ulp of an e4m3 rounding midpoint may round the
    // other way on the GPU (sincosf vs Math.sin), a 6% change of one element of one key.
    tolerance: { f32: s.fp8 && s.packed ? 1e-4 : 1e-5, bf16: 2e-2 },
  };
}

const gqa = { heads: 8, kvHeads: 2, blockSize: 16, window: null };
const fp8Scales = { kScale: 1 / 480, vScale: 0.05 };

export const ATTENTION_CASES: OpCase[] = [
  attentionCase('prefill then decode, GQA 4, d=64', { ...gqa, headDim: 64, seqs: [[5, 1, 1], [17, 1, 1], [1, 1, 1], [40, 1, 1]] }),
  attentionCase('chunked prefill mixed with decode, d=128', { ...gqa, headDim: 128, seqs: [[30, 1, 1], [0, 20, 1], [3, 3, 3], [16, 16, 1]] }),
  attentionCase('MQA, d=16', { heads: 4, kvHeads: 1, headDim: 16, blockSize: 16, window: null, seqs: [[23, 1], [9, 2]] }),
  attentionCase('MHA, d=32', { heads: 4, kvHeads: 4, headDim: 32, blockSize: 16, window: null, seqs: [[33, 1], [1, 7]] }),
  attentionCase('sliding window 8, d=32', { heads: 4, kvHeads: 1, headDim: 32, blockSize: 16, window: 8, seqs: [[37, 1, 1], [12, 5, 1]] }),
  attentionCase('block size 32, GQA 8, d=128', { heads: 8, kvHeads: 1, headDim: 128, blockSize: 32, window: null, seqs: [[70, 1], [31, 33]] }),
  attentionCase('long decode context 600, d=128', { ...gqa, headDim: 128, seqs: [[300, 300, 1], [0, 257, 1]] }),
  attentionCase('packed, chunked prefill and decode, d=128', { ...gqa, headDim: 128, packed: true, seqs: [[30, 1, 1], [0, 20, 1], [3, 3, 3]] }),
  attentionCase('packed, long decode context 600 (split-K), d=128', { ...gqa, headDim: 128, packed: true, seqs: [[300, 300, 1, 1], [0, 257, 1, 1]] }),
  attentionCase('packed, MQA window 8, d=32', { heads: 4, kvHeads: 1, headDim: 32, blockSize: 16, window: 8, packed: true, seqs: [[37, 1], [12, 5]] }),
  // fp8e4m3 caches: |k| > 448 / 480 saturates; |v| < 0.05 * 2^-6 is subnormal in e4m3.
  attentionCase('fp8 cache, prefill then decode, GQA 4, d=64', { ...gqa, headDim: 64, fp8: fp8Scales, seqs: [[5, 1, 1], [17, 1, 1], [40, 1, 1]] }),
  attentionCase('fp8 cache, chunked prefill mixed with decode, d=128', { ...gqa, headDim: 128, fp8: fp8Scales, seqs: [[30, 1, 1], [0, 20, 1], [16, 16, 1]] }),
  attentionCase('fp8 cache (scales 1), MQA window 8, d=32', { heads: 4, kvHeads: 1, headDim: 32, blockSize: 16, window: 8, fp8: { kScale: 1, vScale: 1 }, seqs: [[37, 1], [12, 5]] }),
  attentionCase('fp8 cache, long decode context 600 (split-K), d=128', { ...gqa, headDim: 128, fp8: fp8Scales, seqs: [[300, 300, 1], [0, 257, 1]] }),
  attentionCase('packed, fp8 cache, chunked prefill and decode, d=128', { ...gqa, headDim: 128, packed: true, fp8: fp8Scales, seqs: [[30, 1, 1], [0, 20, 1], [3, 3, 3]] }),
  attentionCase('packed, fp8 cache, long decode context 600 (split-K), GQA 8, d=128', { heads: 8, kvHeads: 1, headDim: 128, blockSize: 16, window: null, packed: true, fp8: fp8Scales, seqs: [[300, 300, 1, 1], [0, 257, 1, 1]] }),
];
