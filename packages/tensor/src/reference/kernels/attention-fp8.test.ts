import { describe, expect, it } from 'vitest';
import { compile } from '../../compile/compile.js';
import type { DType } from '../../dtype.js';
import { f32ToFp8e4m3, fp8e4m3ToF32 } from '../../fp8.js';
import { type AttentionAttrs, GraphBuilder } from '../../graph/builder.js';
import { InMemoryWeights, randomValues, relativeError, seededRandom } from '../../testing/index.js';
import { ReferenceBackend } from '../backend.js';

/** An attention layer over a paged cache of `cacheDtype`: heads, head size, block size and scales as given. */
function attentionPlan(cacheDtype: DType, attrs: AttentionAttrs, blockSize: number, maxDims: { T: number; S: number; MB: number }) {
  const b = new GraphBuilder('attn');
  const cache = (name: string) => b.state(name, cacheDtype, ['NB', blockSize, attrs.numKvHeads, attrs.headDim]);
  const qWidth = attrs.numHeads * attrs.headDim;
  const kvWidth = attrs.numKvHeads * attrs.headDim;
  const operands = {
    q: b.input('q', 'f32', ['T', qWidth]),
    k: b.input('k', 'f32', ['T', kvWidth]),
    v: b.input('v', 'f32', ['T', kvWidth]),
    kCache: cache('kc'),
    vCache: cache('vc'),
    slotMapping: b.input('slots', 'i32', ['T']),
    blockTables: b.input('tables', 'i32', ['S', 'MB']),
    seqLens: b.input('lens', 'i32', ['S']),
    queryStart: b.input('starts', 'i32', ['S+1']),
  };
  b.output('out', b.pagedAttention('a', operands, attrs));
  return compile(b.build(), { maxDims });
}

/** What an fp8 cache holds for x, read back: e4m3(x / scale) * scale, with the scale and the quotient in f32. */
function fp8RoundTrip(x: number, scale: number): number {
  const s = Math.fround(scale);
  return fp8e4m3ToF32(f32ToFp8e4m3(Math.fround(x / s))) * s;
}

describe('paged_attention with an fp8e4m3 KV cache (reference)', () => {
  it('stores e4m3(x / scale), saturating, and reads code * scale (hand-computed)', async () => {
    const attrs = { numHeads: 1, numKvHeads: 1, headDim: 2, scale: 1, slidingWindow: null, kScale: 0.5, vScale: 2 };
    const exe = await new ReferenceBackend().load(attentionPlan('fp8e4m3', attrs, 2, { T: 1, S: 1, MB: 1 }), InMemoryWeights.of({}), {
      loadDims: { NB: 2 },
    });
    const step = (q: number[], k: number[], v: number[], position: number) =>
      exe.run({
        dims: { T: 1, S: 1, MB: 1 },
        inputs: {
          q: Float32Array.from(q),
          k: Float32Array.from(k),
          v: Float32Array.from(v),
          slots: Int32Array.from([2 + position]),
          tables: Int32Array.from([1]),
          lens: Int32Array.from([position + 1]),
          starts: Int32Array.from([0, 1]),
        },
      });
    // k0 / 0.5 = [2.2, -2000] -> e4m3 [2.25, -448] -> read [1.125, -224].
    // v0 / 2 = [0.15, 1.5] -> e4m3 [0.15625 (1.25 * 2^-3; the step there is 2^-6), 1.5] -> read [0.3125, 3].
    const first = await step([1, 0], [1.1, -2000], [0.3, 3], 0);
    expect(Array.from(first.out!.data)).toEqual([0.3125, 3]); // one key: the output is its value as the cache holds it
    // k1 / 0.5 = [1, 0] and v1 / 2 = [0.5, -0.375] are exact. Scores q.k: [1.125, 0.5].
    const second = await step([1, 0], [0.5, 0], [1, -0.75], 1);
    const [w0, w1] = [Math.exp(1.125), Math.exp(0.5)];
    const expected = [(w0 * 0.3125 + w1 * 1) / (w0 + w1), (w0 * 3 + w1 * -0.75) / (w0 + w1)];
    expect(relativeError(second.out!.data, expected)).toBeLessThan(1e-6);
  });

  it('equals a float cache holding the round-tripped K and V, across steps, with GQA and saturation', async () => {
    const attrs = { numHeads: 4, numKvHeads: 2, headDim: 8, scale: 1 / Math.sqrt(8), slidingWindow: null };
    const scaled = { ...attrs, kScale: 1 / 400, vScale: 0.01 }; // |k| > 1.12 saturates at 448 * kScale
    const maxDims = { T: 9, S: 2, MB: 4 };
    const backend = new ReferenceBackend();
    const fp8 = await backend.load(attentionPlan('fp8e4m3', scaled, 4, maxDims), InMemoryWeights.of({}), { loadDims: { NB: 9 } });
    const f32 = await backend.load(attentionPlan('f32', attrs, 4, maxDims), InMemoryWeights.of({}), { loadDims: { NB: 9 } });
    const random = seededRandom(5);
    // Step 1: sequence A's 5 tokens; step 2: 3 more of A and 6 of B (a chunk after a cached prefix, and a prefill).
    const steps = [
      { T: 5, S: 1, slots: [28, 29, 30, 31, 8], tables: [7, 2, 5, 1], lens: [5], starts: [0, 5] },
      { T: 9, S: 2, slots: [9, 10, 11, 12, 13, 14, 15, 16, 17], tables: [7, 2, 5, 1, 3, 4, 6, 8], lens: [8, 6], starts: [0, 3, 9] },
    ];
    let lossy = 0;
    for (const s of steps) {
      const q = randomValues(random, s.T * 32);
      const k = randomValues(random, s.T * 16, 1.5);
      const v = randomValues(random, s.T * 16);
      const meta = { slots: Int32Array.from(s.slots), tables: Int32Array.from(s.tables), lens: Int32Array.from(s.lens), starts: Int32Array.from(s.starts) };
      const dims = { T: s.T, S: s.S, MB: 4 };
      const got = (await fp8.run({ dims, inputs: { q, k, v, ...meta } })).out!.data.slice();
      const kRead = k.map((x) => fp8RoundTrip(x, scaled.kScale));
      const vRead = v.map((x) => fp8RoundTrip(x, scaled.vScale));
      expect(kRead.some((x) => Math.abs(x) === Math.fround(448 * Math.fround(scaled.kScale)))).toBe(true); // some k saturated
      // Unquantized first: the run after it rewrites the same cache slots with the values the next step reads.
      const unquantized = (await f32.run({ dims, inputs: { q, k, v, ...meta } })).out!.data.slice();
      lossy = Math.max(lossy, relativeError(got, unquantized));
      const want = (await f32.run({ dims, inputs: { q, k: kRead, v: vRead, ...meta } })).out!.data;
      expect(relativeError(got, want)).toBeLessThan(1e-6);
    }
    expect(lossy).toBeGreaterThan(1e-3); // the cache really held e4m3 values
  });
});

describe('the fp8 KV cache contract', () => {
  const build = (kDtype: DType, vDtype: DType, scales: { kScale?: number; vScale?: number }) => {
    const b = new GraphBuilder('contract');
    const x = b.input('x', 'f32', ['T', 8]);
    return () =>
      b.pagedAttention(
        'a',
        {
          q: x,
          k: x,
          v: x,
          kCache: b.state('kc', kDtype, ['NB', 4, 2, 4]),
          vCache: b.state('vc', vDtype, ['NB', 4, 2, 4]),
          slotMapping: b.input('s', 'i32', ['T']),
          blockTables: b.input('bt', 'i32', ['S', 'MB']),
          seqLens: b.input('l', 'i32', ['S']),
          queryStart: b.input('qs', 'i32', ['S+1']),
        },
        { numHeads: 2, numKvHeads: 2, headDim: 4, scale: 0.5, slidingWindow: null, ...scales },
      );
  };

  it('takes fp8e4m3 caches under f32 activations, with or without scales', () => {
    expect(build('fp8e4m3', 'fp8e4m3', {})).not.toThrow();
    expect(build('fp8e4m3', 'fp8e4m3', { kScale: 0.02, vScale: 3 })).not.toThrow();
    expect(build('f32', 'f32', { kScale: 1, vScale: 1 })).not.toThrow();
  });

  it('rejects scales on a float cache, bad scales, mixed cache dtypes and e5m2 caches, naming the cause', () => {
    expect(build('f32', 'f32', { kScale: 2 })).toThrow(/a: paged_attention: kScale 2 and vScale 1: a f32 cache is not scaled/);
    expect(build('fp8e4m3', 'fp8e4m3', { vScale: 0 })).toThrow(/attribute vScale must be positive, got 0/);
    expect(build('fp8e4m3', 'fp8e4m3', { kScale: -1 })).toThrow(/attribute kScale must be positive, got -1/);
    expect(build('fp8e4m3', 'fp8e4m3', { kScale: Number.NaN })).toThrow(/attribute kScale must be a finite number/);
    expect(build('fp8e4m3', 'f32', {})).toThrow(/k_cache is fp8e4m3 but v_cache is f32/);
    expect(build('fp8e5m2', 'fp8e5m2', {})).toThrow(/kc has dtype fp8e5m2, expected f32 or f16 or bf16 or fp8e4m3/);
  });
});
