import type { Value } from '@ignis/tensor';
import { randomValues } from '@ignis/tensor/testing';
import type { CaseStep, OpCase } from '../../src/harness/case.js';
import { shuffledBlockIds } from '../attention/attention.cases.js';

/** New tokens of one sequence in one step: positions [from, from + count). */
interface Chunk {
  readonly seq: number;
  readonly from: number;
  readonly count: number;
}

interface Layout {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  /** Sliding window of the attention that reads the cache back (null: the whole context). */
  readonly window: number | null;
}

/**
 * Writers fill the cache in the first step (prefills crossing block boundaries, partial last
 * blocks); later steps read it back: the writers decode, and readers, whose block tables start
 * with a writer's first `blocks` blocks (as a prefix-cache hit would) and end with a fresh block,
 * decode on top of blocks they never wrote.
 */
const WRITERS = [37, 16, 5]; // prefill lengths
const READERS = [
  { writer: 0, blocks: 1 },
  { writer: 0, blocks: 2 },
  { writer: 1, blocks: 1 },
];

/**
 * KV writes (kernels/kv_write, launched by the unfused `paged_attention` op) checked through what
 * later steps read back: a write to a wrong slot, of the wrong row, of k into v, or not at all
 * changes the outputs of the steps that attend over the cache. With a sliding window the readers
 * see only the last positions of a block, so a write to the right block at the wrong offset shows
 * too. Block ids are shuffled, so no table is contiguous.
 */
function kvWriteCase(name: string, l: Layout): OpCase {
  const heads = 2 * l.kvHeads;
  const qWidth = heads * l.headDim;
  const kvWidth = l.kvHeads * l.headDim;
  const writerBlocks = WRITERS.map((n) => Math.ceil((n + 2) / l.blockSize)); // room for two decode steps
  const numBlocks = 1 + writerBlocks.reduce((a, b) => a + b, 0) + READERS.length;
  const steps: Chunk[][] = [
    WRITERS.map((count, seq) => ({ seq, from: 0, count })),
    [...WRITERS.map((count, seq) => ({ seq, from: count, count: 1 })), ...READERS.map((r, i) => ({ seq: WRITERS.length + i, from: r.blocks * l.blockSize, count: 1 }))],
    [{ seq: 0, from: WRITERS[0]! + 1, count: 1 }, { seq: WRITERS.length + 1, from: READERS[1]!.blocks * l.blockSize + 1, count: 1 }],
  ];
  const maxBlocks = Math.max(...writerBlocks, ...READERS.map((r) => r.blocks + 1));
  const maxTokens = Math.max(...steps.map((s) => s.reduce((a, c) => a + c.count, 0)));
  return {
    kernel: 'kv_write',
    name: `kv_write ${name}`,
    build: (b, dtype) => {
      const cache = (n: string) => b.state(n, dtype, ['NB', l.blockSize, l.kvHeads, l.headDim]);
      const [kCache, vCache, slotMapping, blockTables, seqLens, queryStart] = [
        cache('k_cache'),
        cache('v_cache'),
        b.input('slots', 'i32', ['T']),
        b.input('tables', 'i32', ['S', 'MB']),
        b.input('lens', 'i32', ['S']),
        b.input('starts', 'i32', ['S+1']),
      ] as [Value, Value, Value, Value, Value, Value];
      const attrs = { numHeads: heads, numKvHeads: l.kvHeads, headDim: l.headDim, scale: 1 / Math.sqrt(l.headDim), slidingWindow: l.window };
      const [q, k, v] = [b.input('q', dtype, ['T', qWidth]), b.input('k', dtype, ['T', kvWidth]), b.input('v', dtype, ['T', kvWidth])];
      b.output('out', b.pagedAttention('out', { q, k, v, kCache, vCache, slotMapping, blockTables, seqLens, queryStart }, attrs));
    },
    maxDims: { T: maxTokens, S: WRITERS.length + READERS.length, MB: maxBlocks },
    loadDims: { NB: numBlocks },
    weights: () => ({}),
    steps: (random) => {
      const ids = shuffledBlockIds(random, numBlocks);
      const writers = writerBlocks.map((n) => ids.splice(0, n));
      const readers = READERS.map((r) => [...writers[r.writer]!.slice(0, r.blocks), ids.shift()!]);
      const tables = [...writers, ...readers];
      return steps.map((chunks): CaseStep => {
        const T = chunks.reduce((a, c) => a + c.count, 0);
        const slots: number[] = [];
        const table = new Int32Array(chunks.length * maxBlocks);
        chunks.forEach(({ seq, from, count }, row) => {
          for (let p = from; p < from + count; p++) slots.push(tables[seq]![Math.floor(p / l.blockSize)]! * l.blockSize + (p % l.blockSize));
          table.set(tables[seq]!, row * maxBlocks);
        });
        const starts = chunks.reduce((s, c) => [...s, s.at(-1)! + c.count], [0]);
        return {
          dims: { T, S: chunks.length, MB: maxBlocks },
          inputs: {
            q: randomValues(random, T * qWidth),
            k: randomValues(random, T * kvWidth),
            v: randomValues(random, T * kvWidth),
            slots: Int32Array.from(slots),
            tables: table,
            lens: Int32Array.from(chunks, (c) => c.from + c.count),
            starts: Int32Array.from(starts),
          },
        };
      });
    },
    tolerance: { f32: 1e-5, bf16: 2e-2 },
  };
}

export const KV_WRITE_CASES: OpCase[] = [
  kvWriteCase('writers then readers of their blocks, GQA, d=64', { kvHeads: 2, headDim: 64, blockSize: 16, window: null }),
  kvWriteCase('writers then readers through a window of 6, d=32', { kvHeads: 1, headDim: 32, blockSize: 16, window: 6 }),
  kvWriteCase('rows of 1024 (8 KV heads of 128), block size 8', { kvHeads: 8, headDim: 128, blockSize: 8, window: null }),
];
