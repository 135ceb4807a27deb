import { describe, expect, it } from 'vitest';
import { compile } from '../../compile/compile.js';
import { GraphBuilder } from '../../graph/builder.js';
import { InMemoryWeights } from '../../in-memory-weights.js';
import { ReferenceBackend } from '../backend.js';

/** Runs one top_logprobs op with count `L` over the given rows. */
async function topOf(rows: number[][], count: number) {
  const V = rows[0]!.length;
  const b = new GraphBuilder('t');
  const [token, logprob] = b.op('top_logprobs', 'top', [b.input('logits', 'f32', ['R', V])], { count: 'L' });
  b.output('token', token!);
  b.output('logprob', logprob!);
  const plan = compile(b.build(), { maxDims: { R: rows.length, L: 8 } });
  const exe = await new ReferenceBackend().load(plan, InMemoryWeights.of({}), { loadDims: {} });
  const out = await exe.run({ dims: { R: rows.length, L: count }, inputs: { logits: Float32Array.from(rows.flat()) } });
  return { tokens: Array.from(out.token!.data), logprobs: Array.from(out.logprob!.data) };
}

/** log-softmax by hand, in f64. */
const logSoftmax = (row: number[]): number[] => {
  const total = row.reduce((s, x) => s + Math.exp(x), 0);
  return row.map((x) => x - Math.log(total));
};

describe('top_logprobs (hand-computed)', () => {
  it('the largest logits first, equal ones in index order, with their log-softmax', async () => {
    const row = [1, 3, 3, 0, 2, -1];
    const { tokens, logprobs } = await topOf([row], 3);
    expect(tokens).toEqual([1, 2, 4]);
    const expected = logSoftmax(row);
    for (const [k, id] of tokens.entries()) expect(logprobs[k]).toBeCloseTo(expected[id]!, 6);
  });

  it('rows are independent and laid out [R, L]', async () => {
    const { tokens } = await topOf([[0, 1, 2, 3], [3, 2, 1, 0], [5, 5, 5, 5]], 2);
    expect(tokens).toEqual([3, 2, 0, 1, 0, 1]);
  });

  it('a count past the vocabulary pads with token -1 and -Infinity', async () => {
    const { tokens, logprobs } = await topOf([[0, 1]], 3);
    expect(tokens).toEqual([1, 0, -1]);
    expect(logprobs[2]).toBe(-Infinity);
    expect(logprobs[0]).toBeCloseTo(Math.log(Math.E / (1 + Math.E)), 6);
  });

  it('count 0 computes nothing', async () => {
    const { tokens } = await topOf([[0, 1]], 0);
    expect(tokens).toEqual([]);
  });

  it('a random row agrees with a full sort', async () => {
    let s = 7;
    const row = Array.from({ length: 1000 }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31), Math.fround((s / 2 ** 31) * 20 - 10)));
    const { tokens } = await topOf([row], 8);
    const sorted = row.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    expect(tokens).toEqual(sorted.slice(0, 8).map(([, i]) => i));
  });
});
