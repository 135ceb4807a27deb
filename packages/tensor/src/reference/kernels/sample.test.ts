import { describe, expect, it } from 'vitest';
import { chiSquare } from '../../testing/statistics.js';
import { type RowParams, sampleRow } from './sample.js';

const DEFAULTS: RowParams = { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42, step: 0 };

/** Frequencies of each token over `n` steps of one seed (each step draws a fresh uniform). */
function frequencies(logits: number[], params: Partial<RowParams>, n = 60_000): number[] {
  const row = Float32Array.from(logits);
  const order = new Int32Array(row.length);
  const counts = new Array<number>(logits.length).fill(0);
  for (let step = 0; step < n; step++) counts[sampleRow(row, { ...DEFAULTS, ...params, step }, order).token]!++;
  return counts.map((c) => c / n);
}

// Probabilities 1/6, 2/6, 3/6 at temperature 1.
const LOGITS = [0, Math.log(2), Math.log(3)];

describe('sampleRow', () => {
  it('greedy picks the largest logit, the first on ties, with its log-softmax', () => {
    const row = Float32Array.from([1, 3, 3, -2]);
    const result = sampleRow(row, { ...DEFAULTS, temperature: 0 }, new Int32Array(4));
    expect(result.token).toBe(1);
    const logZ = Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(-2));
    expect(result.logprob).toBeCloseTo(3 - logZ, 6);
  });

  it('temperature 1 draws from softmax(logits)', () => {
    frequencies(LOGITS, {}).forEach((f, i) => expect(f).toBeCloseTo([1 / 6, 2 / 6, 3 / 6][i]!, 2));
  });

  it('temperature 0.5 squares the odds', () => {
    // softmax(2 * logits) = (1, 4, 9) / 14
    frequencies(LOGITS, { temperature: 0.5 }).forEach((f, i) => expect(f).toBeCloseTo([1 / 14, 4 / 14, 9 / 14][i]!, 2));
  });

  it('top-k 2 keeps the two most likely and renormalizes', () => {
    frequencies(LOGITS, { topK: 2 }).forEach((f, i) => expect(f).toBeCloseTo([0, 2 / 5, 3 / 5][i]!, 2));
  });

  it('top-p keeps the smallest set that reaches p', () => {
    // Sorted probabilities 0.5, 0.333, 0.167: p = 0.5 keeps one token, p = 0.6 keeps two.
    expect(frequencies(LOGITS, { topP: 0.5 })).toEqual([0, 0, 1]);
    frequencies(LOGITS, { topP: 0.6 }).forEach((f, i) => expect(f).toBeCloseTo([0, 2 / 5, 3 / 5][i]!, 2));
  });

  it('min-p keeps tokens at least min_p as likely as the best', () => {
    // p relative to the best: 1/3, 2/3, 1. min_p 0.5 drops the first.
    frequencies(LOGITS, { minP: 0.5 }).forEach((f, i) => expect(f).toBeCloseTo([0, 2 / 5, 3 / 5][i]!, 2));
  });

  it('a row where every token but one is -inf always gives that token', () => {
    const row = Float32Array.from([-Infinity, -Infinity, 2, -Infinity]);
    for (let step = 0; step < 50; step++) expect(sampleRow(row, { ...DEFAULTS, step }, new Int32Array(4)).token).toBe(2);
  });
});

describe('sampleRow against the softmax (chi-square)', () => {
  // Fixed seed and steps: the check is deterministic; a sound sampler fails it with probability ALPHA.
  const ALPHA = 0.001;
  const LOGITS6 = [0.5, -1, 2, 0, 1.3, -0.2];
  const softmax = (logits: number[], t: number): number[] => {
    const w = logits.map((x) => Math.exp(x / t));
    const total = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / total);
  };
  const counts = (logits: number[], params: Partial<RowParams>, n: number): number[] =>
    frequencies(logits, params, n).map((f) => Math.round(f * n));

  it.each([1, 0.7])('token frequencies at temperature %s follow softmax(logits / T)', (temperature) => {
    const test = chiSquare(counts(LOGITS6, { temperature, seed: 0x2545f491 }, 20_000), softmax(LOGITS6, temperature));
    expect(test.pValue).toBeGreaterThanOrEqual(ALPHA);
  });

  it('a huge temperature (1e30) samples uniformly', () => {
    expect(chiSquare(counts(LOGITS6, { temperature: 1e30 }, 12_000), LOGITS6.map(() => 1 / 6)).pValue).toBeGreaterThanOrEqual(ALPHA);
  });
});

describe('sampleRow at the ends of f32', () => {
  const FLT_MAX = 3.4028234663852886e38;
  const FLT_MIN = 2 ** -126;
  const HUGE = Float32Array.from([1e38, -3e38, 2, FLT_MAX, -Infinity, 3e38, 0]);

  it('never gives NaN: for every finite temperature, huge logits included, the token is kept and its logprob finite', () => {
    const order = new Int32Array(HUGE.length);
    for (const temperature of [1e-45, 1e-40, FLT_MIN, 1e-30, 1e-3, 0.7, 1, 1e3, 1e30, FLT_MAX, Infinity]) {
      for (const [topK, topP, minP] of [[0, 1, 0], [2, 1, 0], [0, 0.5, 0], [0, 1, 0.5], [3, 0.9, 1e-30]]) {
        for (let step = 0; step < 20; step++) {
          const { token, logprob } = sampleRow(HUGE, { temperature, topK: topK!, topP: topP!, minP: minP!, seed: 9, step }, order);
          expect(HUGE[token]).toBeGreaterThan(-Infinity);
          expect(Number.isFinite(logprob)).toBe(true);
        }
      }
    }
  });

  it('subnormal temperatures (1e-40 here, the case that gave the last token id) are greedy', () => {
    const row = Float32Array.from([1, 5, 3, -2]);
    for (let step = 0; step < 20; step++) expect(sampleRow(row, { ...DEFAULTS, temperature: 1e-40, step }, new Int32Array(4)).token).toBe(1);
  });

  it('the smallest normal temperature keeps only the largest logit, drawing among exact ties', () => {
    const row = Float32Array.from([1, 5, 4.999999, 5, -2]);
    const seen = new Set<number>();
    for (let step = 0; step < 50; step++) seen.add(sampleRow(row, { ...DEFAULTS, temperature: FLT_MIN, step }, new Int32Array(5)).token);
    expect([...seen].sort()).toEqual([1, 3]);
  });
});
