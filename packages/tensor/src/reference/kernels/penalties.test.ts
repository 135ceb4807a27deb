import { describe, expect, it } from 'vitest';
import { compile } from '../../compile/compile.js';
import { GraphBuilder } from '../../graph/builder.js';
import { InMemoryWeights } from '../../in-memory-weights.js';
import { ReferenceBackend } from '../backend.js';
import { sampleRow } from './sample.js';

/** One penalties op on a logits input; returns the output for the given rows. */
async function penalize(logits: number[][], rows: { prompt: number[]; output: number[]; rep: number; pres: number; freq: number }[]) {
  const V = logits[0]!.length;
  const b = new GraphBuilder('p');
  const ops = b.op('penalties', 'out', [
    b.input('logits', 'f32', ['R', V]),
    b.input('tokens', 'i32', ['P']),
    b.input('start', 'i32', ['R+1']),
    b.input('output_start', 'i32', ['R']),
    b.input('rep', 'f32', ['R']),
    b.input('pres', 'f32', ['R']),
    b.input('freq', 'f32', ['R']),
  ], {}); // prettier-ignore
  b.output('out', ops[0]!);
  const plan = compile(b.build(), { maxDims: { R: rows.length, P: 64 } });
  const exe = await new ReferenceBackend().load(plan, InMemoryWeights.of({}), { loadDims: {} });
  const tokens = rows.flatMap((r) => [...r.prompt, ...r.output]);
  const start = [0];
  for (const r of rows) start.push(start.at(-1)! + r.prompt.length + r.output.length);
  const out = await exe.run({
    dims: { R: rows.length, P: tokens.length },
    inputs: {
      logits: Float32Array.from(logits.flat()),
      tokens: Int32Array.from(tokens),
      start: Int32Array.from(start),
      output_start: Int32Array.from(rows.map((r) => r.prompt.length)),
      rep: Float32Array.from(rows.map((r) => r.rep)),
      pres: Float32Array.from(rows.map((r) => r.pres)),
      freq: Float32Array.from(rows.map((r) => r.freq)),
    },
  });
  return Array.from(out.out!.data);
}

describe('penalties (hand-computed)', () => {
  it('repetition divides positive and multiplies negative logits of prompt and output tokens, once each', async () => {
    const out = await penalize([[2, -2, 3, 4]], [{ prompt: [0, 0, 1], output: [1], rep: 2, pres: 0, freq: 0 }]);
    expect(out).toEqual([1, -4, 3, 4]);
  });

  it('frequency per output occurrence, presence once per distinct output token; prompt tokens exempt', async () => {
    const out = await penalize([[1, 1, 1, 1]], [{ prompt: [3], output: [0, 0, 0, 2], rep: 1, pres: 0.5, freq: 0.25 }]);
    expect(out).toEqual([1 - 0.75 - 0.5, 1, 1 - 0.25 - 0.5, 1]);
  });

  it('neutral rows are untouched, rows are independent', async () => {
    const out = await penalize(
      [
        [1, 2],
        [3, 4],
      ],
      [
        { prompt: [0], output: [1], rep: 1, pres: 0, freq: 0 },
        { prompt: [], output: [1, 1], rep: 1.5, pres: 0, freq: 1 },
      ],
    );
    const f = Math.fround;
    expect(out).toEqual([1, 2, 3, f(f(f(4 / 1.5) - 1) - 1)]); // one f32 rounding per operation
  });
});

describe('penalties at the ends of f32', () => {
  const FLT_MAX = 3.4028234663852886e38;

  it('a finite logit stays finite: overflows saturate at +-FLT_MAX; masked (-inf) logits stay masked', async () => {
    const tiny = 2 ** -126; // x / tiny overflows for x >= 4
    const huge = FLT_MAX;
    const out = await penalize(
      [
        [5, -3, -Infinity, 0.25],
        [3, -3, -Infinity, 0.25],
        [-FLT_MAX, FLT_MAX, -Infinity, 1],
      ],
      [
        { prompt: [0, 1, 2, 3], output: [], rep: tiny, pres: 0, freq: 0 },
        { prompt: [0, 1, 2], output: [3], rep: huge, pres: 0, freq: 0 },
        { prompt: [], output: [0, 0, 1, 2], rep: 1, pres: -FLT_MAX, freq: FLT_MAX },
      ],
    );
    expect(out.slice(0, 4)).toEqual([FLT_MAX, Math.fround(-3 * tiny), -Infinity, 2 ** 124]);
    expect(out.slice(4, 8)).toEqual([Math.fround(3 / huge), -FLT_MAX, -Infinity, Math.fround(0.25 / huge)]);
    // Token 0: -FLT_MAX - FLT_MAX twice saturates, then + FLT_MAX (presence -FLT_MAX) gives 0.
    // Token 1: FLT_MAX - FLT_MAX = 0, then + FLT_MAX. Token 2 stays masked.
    expect(out.slice(8, 12)).toEqual([0, FLT_MAX, -Infinity, 1]);
  });

  it('a repetition penalty of 1e-40 (an f32 subnormal) leaves the sampled log-probabilities finite', async () => {
    const out = await penalize([[3, 2, -1, 0.5]], [{ prompt: [0, 1, 3], output: [], rep: 1e-40, pres: 0, freq: 0 }]);
    const row = Float32Array.from(out);
    for (let step = 0; step < 20; step++) {
      const { token, logprob } = sampleRow(row, { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 5, step }, new Int32Array(4));
      expect([0, 1, 3]).toContain(token); // all three at FLT_MAX: tied, drawn among
      // Finite (it was NaN): log(3) is below the resolution of logits near FLT_MAX, so it reads 0.
      expect(logprob).toBe(0);
    }
  });
});
