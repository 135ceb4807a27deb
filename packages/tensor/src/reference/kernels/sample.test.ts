import { describe, expect, it } from 'vitest';
import { fmix32, sampleUniform, seed32 } from '../../random.js';
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

describe('sampleUniform', () => {
  it('is stateless: the same seed and step give the same draw, others differ', () => {
    expect(sampleUniform(7, 3)).toBe(sampleUniform(7, 3));
    expect(sampleUniform(7, 3)).not.toBe(sampleUniform(7, 4));
    expect(sampleUniform(7, 3)).not.toBe(sampleUniform(8, 3));
  });

  it('is uniform on [0, 1): mean 1/2, variance 1/12, every decile filled', () => {
    const n = 100_000;
    const deciles = new Array<number>(10).fill(0);
    let sum = 0;
    let squares = 0;
    for (let step = 0; step < n; step++) {
      const u = sampleUniform(seed32(12345), step);
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      squares += u * u;
      deciles[Math.floor(u * 10)]!++;
    }
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(squares / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
    deciles.forEach((d) => expect(d / n).toBeCloseTo(0.1, 2));
  });

  it('fmix32 matches MurmurHash3 known values', () => {
    // fmix32 from MurmurHash3: fmix32(0) = 0, and a bijection on a sample of inputs.
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(10_000);
  });
});
