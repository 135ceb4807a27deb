import { seededRandom } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { resolveSamplingParams } from './params.js';
import { sampleToken } from './sampler.js';

/** Frequencies of each token over `n` draws. */
function frequencies(logits: number[], params: Parameters<typeof resolveSamplingParams>[0], n = 60_000): number[] {
  const random = seededRandom(42);
  const row = Float32Array.from(logits);
  const resolved = resolveSamplingParams(params);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(row, resolved, random).tokenId]!++;
  return counts.map((c) => c / n);
}

// Probabilities 1/6, 2/6, 3/6 at temperature 1.
const LOGITS = [0, Math.log(2), Math.log(3)];

describe('sampleToken', () => {
  it('greedy picks the largest logit, the first on ties, with its log-softmax', () => {
    const row = Float32Array.from([1, 3, 3, -2]);
    const result = sampleToken(row, resolveSamplingParams({ temperature: 0 }), () => 0.5);
    expect(result.tokenId).toBe(1);
    const logZ = Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(-2));
    expect(result.logprob).toBeCloseTo(3 - logZ, 6);
  });

  it('temperature 1 draws from softmax(logits)', () => {
    frequencies(LOGITS, { temperature: 1 }).forEach((f, i) => expect(f).toBeCloseTo([1 / 6, 2 / 6, 3 / 6][i]!, 2));
  });

  it('temperature 0.5 squares the odds', () => {
    // softmax(2 * logits) = (1, 4, 9) / 14
    frequencies(LOGITS, { temperature: 0.5 }).forEach((f, i) => expect(f).toBeCloseTo([1 / 14, 4 / 14, 9 / 14][i]!, 2));
  });

  it('top-k 2 keeps the two most likely and renormalizes', () => {
    frequencies(LOGITS, { temperature: 1, topK: 2 }).forEach((f, i) => expect(f).toBeCloseTo([0, 2 / 5, 3 / 5][i]!, 2));
  });

  it('top-p keeps the smallest set that reaches p', () => {
    // Sorted probabilities 0.5, 0.333, 0.167: p = 0.5 keeps one token, p = 0.6 keeps two.
    expect(frequencies(LOGITS, { temperature: 1, topP: 0.5 })).toEqual([0, 0, 1]);
    frequencies(LOGITS, { temperature: 1, topP: 0.6 }).forEach((f, i) => expect(f).toBeCloseTo([0, 2 / 5, 3 / 5][i]!, 2));
  });

  it('the same seed gives the same draws', () => {
    const row = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]);
    const params = resolveSamplingParams({ temperature: 1 });
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => sampleToken(row, params, random).tokenId);
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });
});

describe('resolveSamplingParams', () => {
  it('fills vLLM defaults and names the field of a bad value', () => {
    expect(resolveSamplingParams({})).toMatchObject({ maxTokens: 16, temperature: 1, topK: 0, topP: 1, ignoreEos: false });
    expect(() => resolveSamplingParams({ topK: -1 })).toThrow(/topK must be an integer >= 0/);
    expect(() => resolveSamplingParams({ seed: 1.5 })).toThrow(/seed must be a non-negative integer/);
    expect(() => resolveSamplingParams({ stop: [''] })).toThrow(/stop must be a list of non-empty strings/);
    expect(() => resolveSamplingParams({ temperature: Number.NaN })).toThrow(/temperature must be a number >= 0/);
  });
});
