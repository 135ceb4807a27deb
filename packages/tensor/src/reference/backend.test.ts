import { describe, expect, it } from 'vitest';
import { compile } from '../compile/compile.js';
import type { DimSizes } from '../graph/dims.js';
import { GraphBuilder } from '../graph/builder.js';
import type { Value } from '../graph/types.js';
import { Tensor } from '../tensor.js';
import { InMemoryWeights, randomTensor, randomValues, relativeError, seededRandom } from '../testing/index.js';
import { ReferenceBackend, YIELD_AFTER_MS } from './backend.js';

const backend = new ReferenceBackend();

/** Builds a one-output graph, compiles it, loads it and runs one step. */
async function runGraph(
  build: (b: GraphBuilder) => Value,
  weights: Record<string, Tensor>,
  step: { dims: DimSizes; inputs: Record<string, Int32Array | Float32Array> },
  loadDims: DimSizes = {},
): Promise<Float32Array> {
  const b = new GraphBuilder('test');
  b.output('out', build(b));
  const plan = compile(b.build(), { maxDims: step.dims });
  const exe = await backend.load(plan, InMemoryWeights.of(weights), { loadDims });
  const result = await exe.run(step);
  return Float32Array.from(result.out!.data);
}

describe('linear', () => {
  it.each([
    [7, 13, 10],
    [70, 33, 9],
    [1, 64, 4],
  ])('matches a naive product for T=%i K=%i N=%i', async (T, K, N) => {
    const random = seededRandom(T * 1000 + K);
    const w = randomTensor(random, 'bf16', [N, K]);
    const bias = randomTensor(random, 'f32', [N]);
    const x = randomValues(random, T * K);
    const out = await runGraph(
      (b) => b.linear('y', b.input('x', 'f32', ['T', K]), b.weight('w', 'bf16', [N, K]), b.weight('bias', 'f32', [N])),
      { w, bias },
      { dims: { T }, inputs: { x } },
    );
    const wf = w.toF32();
    const expected = new Float32Array(T * N);
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[t * K + k]! * wf[n * K + k]!;
        expected[t * N + n] = s + bias.data[n]!;
      }
    }
    expect(relativeError(out, expected)).toBeLessThan(1e-6);
  });
});

describe('rmsnorm', () => {
  it('normalizes by the root mean square and scales by the weight', async () => {
    const x = Float32Array.from([3, 4, 0, 0, 1, 1, 1, 1]);
    const w = Tensor.fromValues('f32', [4], [1, 2, 0.5, 1]);
    const out = await runGraph(
      (b) => b.rmsnorm('n', b.input('x', 'f32', ['T', 4]), b.weight('w', 'f32', [4]), 0),
      { w },
      { dims: { T: 2 }, inputs: { x } },
    );
    // Row 0: rms = sqrt((9 + 16) / 4) = 2.5. Row 1: rms = 1.
    expect(Array.from(out)).toEqual([3 / 2.5, (4 / 2.5) * 2, 0, 0, 1, 2, 0.5, 1].map(Math.fround));
  });

  it('fused add+rmsnorm gives the same result as add then rmsnorm', async () => {
    const random = seededRandom(3);
    const x = randomValues(random, 5 * 8);
    const r = randomValues(random, 5 * 8);
    const w = randomTensor(random, 'f32', [8]);
    const build = (b: GraphBuilder): Value => {
      const sum = b.add('sum', b.input('x', 'f32', ['T', 8]), b.input('r', 'f32', ['T', 8]));
      return b.rmsnorm('n', sum, b.weight('w', 'f32', [8]), 1e-5);
    };
    const g = new GraphBuilder('fuse');
    g.output('out', build(g));
    const fused = compile(g.build(), { maxDims: { T: 5 } });
    expect(fused.ops.map((op) => op.op)).toEqual(['add_rmsnorm']);
    const unfused = compile(g.build(), { maxDims: { T: 5 }, passes: [] });
    expect(unfused.ops.map((op) => op.op)).toEqual(['add', 'rmsnorm']);
    const results = [];
    for (const plan of [fused, unfused]) {
      const exe = await backend.load(plan, InMemoryWeights.of({ w }), { loadDims: {} });
      results.push(Float32Array.from((await exe.run({ dims: { T: 5 }, inputs: { x, r } })).out!.data));
    }
    expect(results[0]).toEqual(results[1]);
  });
});

describe('rope', () => {
  it('rotates channel pairs (j, j + half) by position * inv_freq, hand-computed', async () => {
    const x = Float32Array.from([1, 2, 3, 4, 1, 2, 3, 4]);
    const positions = Int32Array.from([0, 1]);
    const out = await runGraph(
      (b) => b.rope('r', b.input('x', 'f32', ['T', 4]), b.input('pos', 'i32', ['T']), b.constant('f', 'f32', [2], [1, 0.01]), 1, 4),
      {},
      { dims: { T: 2 }, inputs: { x, pos: positions } },
    );
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 2, 3, 4]); // position 0: identity
    const c1 = Math.cos(1);
    const s1 = Math.sin(1);
    const c2 = Math.cos(0.01);
    const s2 = Math.sin(0.01);
    const expected = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2];
    expect(relativeError(out.subarray(4), expected)).toBeLessThan(1e-6);
  });

  it('leaves channels past the rotary dimension untouched', async () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const out = await runGraph(
      (b) => b.rope('r', b.input('x', 'f32', ['T', 6]), b.input('pos', 'i32', ['T']), b.constant('f', 'f32', [1], [0.5]), 1, 6),
      {},
      { dims: { T: 1 }, inputs: { x, pos: Int32Array.from([2]) } },
    );
    expect(relativeError(out.subarray(0, 2), [Math.cos(1) - 2 * Math.sin(1), 2 * Math.cos(1) + Math.sin(1)])).toBeLessThan(1e-6);
    expect(Array.from(out.subarray(2))).toEqual([3, 4, 5, 6]);
  });
});

describe('paged_attention', () => {
  const numHeads = 4;
  const numKvHeads = 2;
  const headDim = 8;
  const blockSize = 4;
  const numBlocks = 16;
  const maxBlocks = 4;

  /** Dense causal attention over full per-sequence K/V, written as plainly as possible. */
  function denseAttention(q: number[][], k: number[][], v: number[][], window: number): number[][] {
    const group = numHeads / numKvHeads;
    const out: number[][] = [];
    const offset = k.length - q.length; // queries are the last rows of the sequence
    q.forEach((row, i) => {
      const position = offset + i;
      const result = new Array<number>(numHeads * headDim).fill(0);
      for (let h = 0; h < numHeads; h++) {
        const kv = Math.floor(h / group);
        const keys = [];
        for (let j = Math.max(0, position - window + 1); j <= position; j++) keys.push(j);
        const scores = keys.map((j) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += row[h * headDim + d]! * k[j]![kv * headDim + d]!;
          return dot / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const total = weights.reduce((a, b) => a + b, 0);
        keys.forEach((j, n) => {
          for (let d = 0; d < headDim; d++) result[h * headDim + d]! += (weights[n]! / total) * v[j]![kv * headDim + d]!;
        });
      }
      out.push(result);
    });
    return out;
  }

  function buildAttention(window: number | null) {
    const b = new GraphBuilder('attn');
    const out = b.pagedAttention(
      'a',
      {
        q: b.input('q', 'f32', ['T', numHeads * headDim]),
        k: b.input('k', 'f32', ['T', numKvHeads * headDim]),
        v: b.input('v', 'f32', ['T', numKvHeads * headDim]),
        kCache: b.state('kc', 'f32', ['NB', blockSize, numKvHeads, headDim]),
        vCache: b.state('vc', 'f32', ['NB', blockSize, numKvHeads, headDim]),
        slotMapping: b.input('slots', 'i32', ['T']),
        blockTables: b.input('tables', 'i32', ['S', 'MB']),
        seqLens: b.input('lens', 'i32', ['S']),
        queryStart: b.input('starts', 'i32', ['S+1']),
      },
      { numHeads, numKvHeads, headDim, scale: 1 / Math.sqrt(headDim), slidingWindow: window },
    );
    b.output('out', out);
    return compile(b.build(), { maxDims: { T: 16, S: 2, MB: maxBlocks } });
  }

  it.each([null, 3])('matches dense attention across two steps with a cached prefix (window %s)', async (window) => {
    const random = seededRandom(window ?? 11);
    const exe = await backend.load(buildAttention(window), InMemoryWeights.of({}), { loadDims: { NB: numBlocks } });
    const row = (n: number) => Array.from(randomValues(random, n));
    // Sequence A: 5 tokens, then 3 more. Sequence B: 6 tokens in the second step. Blocks are scattered.
    const tables = { A: [7, 2, 11, 0], B: [5, 9, 3, 0] };
    const seq = {
      A: { q: [] as number[][], k: [] as number[][], v: [] as number[][] },
      B: { q: [] as number[][], k: [] as number[][], v: [] as number[][] },
    };
    const slot = (table: number[], p: number) => table[Math.floor(p / blockSize)]! * blockSize + (p % blockSize);
    const addTokens = (name: 'A' | 'B', n: number) => {
      for (let i = 0; i < n; i++) {
        seq[name].q.push(row(numHeads * headDim));
        seq[name].k.push(row(numKvHeads * headDim));
        seq[name].v.push(row(numKvHeads * headDim));
      }
    };

    addTokens('A', 5);
    const first = await exe.run({
      dims: { T: 5, S: 1, MB: maxBlocks },
      inputs: {
        q: Float32Array.from(seq.A.q.flat()),
        k: Float32Array.from(seq.A.k.flat()),
        v: Float32Array.from(seq.A.v.flat()),
        slots: Int32Array.from([0, 1, 2, 3, 4].map((p) => slot(tables.A, p))),
        tables: Int32Array.from(tables.A),
        lens: Int32Array.from([5]),
        starts: Int32Array.from([0, 5]),
      },
    });
    const w = window ?? 1e9;
    const round = (rows: number[][]) => Float32Array.from(rows.flat());
    expect(relativeError(first.out!.data, round(denseAttention(seq.A.q, seq.A.k, seq.A.v, w)))).toBeLessThan(1e-6);

    addTokens('A', 3);
    addTokens('B', 6);
    const newA = { q: seq.A.q.slice(5), k: seq.A.k.slice(5), v: seq.A.v.slice(5) };
    const second = await exe.run({
      dims: { T: 9, S: 2, MB: maxBlocks },
      inputs: {
        q: Float32Array.from([...newA.q, ...seq.B.q].flat()),
        k: Float32Array.from([...newA.k, ...seq.B.k].flat()),
        v: Float32Array.from([...newA.v, ...seq.B.v].flat()),
        slots: Int32Array.from([...[5, 6, 7].map((p) => slot(tables.A, p)), ...[0, 1, 2, 3, 4, 5].map((p) => slot(tables.B, p))]),
        tables: Int32Array.from([...tables.A, ...tables.B]),
        lens: Int32Array.from([8, 6]),
        starts: Int32Array.from([0, 3, 9]),
      },
    });
    const expected = [
      ...denseAttention(newA.q, seq.A.k, seq.A.v, w),
      ...denseAttention(seq.B.q, seq.B.k, seq.B.v, w),
    ];
    expect(relativeError(second.out!.data, round(expected))).toBeLessThan(1e-6);
  });

  it('rejects a slot outside the cache', async () => {
    const exe = await backend.load(buildAttention(null), InMemoryWeights.of({}), { loadDims: { NB: 2 } });
    const step = {
      dims: { T: 1, S: 1, MB: maxBlocks },
      inputs: {
        q: new Float32Array(numHeads * headDim).fill(0.5),
        k: new Float32Array(numKvHeads * headDim).fill(0.5),
        v: new Float32Array(numKvHeads * headDim).fill(0.5),
        slots: Int32Array.from([8]),
        tables: Int32Array.from([2, 0, 0, 0]),
        lens: Int32Array.from([1]),
        starts: Int32Array.from([0, 1]),
      },
    };
    await expect(exe.run(step)).rejects.toThrow(/slot 8 is outside the cache \[0, 8\)/);
  });
});

describe('embedding and gather_rows', () => {
  it('picks table rows by id and output rows by index', async () => {
    const table = Tensor.fromValues('f32', [3, 2], [0.5, 1, 2, 3, 4, 5]);
    const out = await runGraph(
      (b) => {
        const e = b.embedding('e', b.input('ids', 'i32', ['T']), b.weight('table', 'f32', [3, 2]), 'f32');
        return b.gatherRows('g', e, b.input('rows', 'i32', ['R']));
      },
      { table },
      { dims: { T: 3, R: 2 }, inputs: { ids: Int32Array.from([2, 0, 1]), rows: Int32Array.from([2, 0]) } },
    );
    expect(Array.from(out)).toEqual([2, 3, 4, 5]);
  });

  it('rejects a token id outside the vocabulary', async () => {
    const table = Tensor.fromValues('f32', [3, 2], [1, 1, 2, 2, 3, 3]);
    await expect(
      runGraph((b) => b.embedding('e', b.input('ids', 'i32', ['T']), b.weight('table', 'f32', [3, 2]), 'f32'), { table }, {
        dims: { T: 1 },
        inputs: { ids: Int32Array.from([3]) },
      }),
    ).rejects.toThrow(/token id 3 is outside the vocabulary \[0, 3\)/);
  });
});

describe('weights and inputs', () => {
  it('names a missing weight and a weight of the wrong shape', async () => {
    const b = new GraphBuilder('w');
    b.output('out', b.linear('y', b.input('x', 'f32', ['T', 4]), b.weight('w', 'f32', [2, 4])));
    const plan = compile(b.build(), { maxDims: { T: 1 } });
    await expect(backend.load(plan, InMemoryWeights.of({}), { loadDims: {} })).rejects.toThrow(/missing tensor w \(expected f32 or f16 or bf16 \[2, 4\]\)/);
    const wrong = InMemoryWeights.of({ w: Tensor.zeros('f32', [4, 2]) });
    await expect(backend.load(plan, wrong, { loadDims: {} })).rejects.toThrow(/tensor w has shape \[4, 2\], expected \[2, 4\]/);
  });

  it('rejects a step larger than the compiled maximum and inputs of the wrong length', async () => {
    const b = new GraphBuilder('w');
    b.output('out', b.linear('y', b.input('x', 'f32', ['T', 4]), b.weight('w', 'f32', [2, 4])));
    const plan = compile(b.build(), { maxDims: { T: 2 } });
    const exe = await backend.load(plan, InMemoryWeights.of({ w: Tensor.zeros('f32', [2, 4]) }), { loadDims: {} });
    await expect(exe.run({ dims: { T: 3 }, inputs: { x: new Float32Array(12) } })).rejects.toThrow(/T = 3 is outside \[0, 2\]/);
    await expect(exe.run({ dims: { T: 2 }, inputs: { x: new Float32Array(7) } })).rejects.toThrow(/x has 7 elements/);
  });
});

describe('a long step', () => {
  /** 120 ops, each doubling x, on a backend whose clock is `clock`. */
  async function doublings(clock: () => number) {
    const b = new GraphBuilder('long');
    let x = b.input('x', 'f32', [4, 256]);
    for (let i = 0; i < 120; i++) x = b.add(`a${i}`, x, x);
    b.output('out', x);
    const plan = compile(b.build(), { maxDims: {} });
    return new ReferenceBackend({ clock }).load(plan, InMemoryWeights.of({}), { loadDims: {} });
  }
  const step = () => ({ dims: {}, inputs: { x: new Float32Array(1024).fill(1 / 2 ** 130) } });

  /** Runs `run` while counting the turns of the event loop (one setImmediate callback per turn) until it settles. */
  async function countTurns<T>(run: () => Promise<T>): Promise<{ result: T; turns: number }> {
    let turns = 0;
    let settled = false;
    const tick = (): void => {
      if (settled) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const result = await run();
      return { result, turns };
    } finally {
      settled = true;
    }
  }

  it('yields to the event loop between ops once it has held it for YIELD_AFTER_MS', async () => {
    // A fake clock that moves 7 ms at every reading: the step reads it after each op (and after
    // each yield, to restart its count), so it yields after every third op: 21 ms > YIELD_AFTER_MS.
    expect(3 * 7).toBeGreaterThan(YIELD_AFTER_MS);
    expect(2 * 7).toBeLessThanOrEqual(YIELD_AFTER_MS);
    let readings = 0;
    const exe = await doublings(() => 7 * readings++);
    const { result, turns } = await countTurns(() => exe.run(step()));
    expect(result.out!.data[0]).toBe(1 / 2 ** 10); // 120 doublings, computed in full
    expect(turns).toBe(120 / 3);
    expect(readings).toBe(1 + 120 + 120 / 3); // the start, after each op, after each yield
  });

  it('does not yield while the clock says it has not held the loop that long', async () => {
    const exe = await doublings(() => 0);
    const { result, turns } = await countTurns(() => exe.run(step()));
    expect(result.out!.data[0]).toBe(1 / 2 ** 10);
    expect(turns).toBe(0);
  });

  it('stops at the next yield once disposed', async () => {
    let readings = 0;
    const exe = await doublings(() => 7 * readings++);
    setImmediate(() => exe.dispose()); // runs in the step's first yield, which comes after three ops
    const running = exe.run(step());
    await expect(running).rejects.toThrow(/used after dispose\(\)/);
    expect(readings).toBe(1 + 3);
  });
});
