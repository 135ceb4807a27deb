import { describe, expect, it } from 'vitest';
import { completionSeed, fmix32, sampleUniform } from './random.js';
import { ksUniform } from './testing/statistics.js';

// Significance level of the statistical checks: fixed seeds make each check deterministic (it
// always passes or always fails); a sound generator fails one with probability ALPHA.
const ALPHA = 0.001;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('sampleUniform', () => {
  it('is stateless: the same seed and step give the same draw, others differ', () => {
    expect(sampleUniform(7, 3)).toBe(sampleUniform(7, 3));
    expect(sampleUniform(7, 3)).not.toBe(sampleUniform(7, 4));
    expect(sampleUniform(7, 3)).not.toBe(sampleUniform(8, 3));
  });

  it('gives the pinned bits that the CUDA uniform_bits must match (sampling_test.cu: check_draw_bits)', () => {
    const bits = (seed: number, step: number): number => sampleUniform(seed, step) * 2 ** 24;
    expect(bits(0, 0)).toBe(0x6627e8); // Random123's counter 0, key 0 answer 6627e8d5, top 24 bits
    expect([bits(1, 0), bits(0, 1), bits(42, 7), bits(0xffffffff, 0x7fffffff), bits(0x2545f491, 12345)]).toEqual([
      0xe3e806, 0xf8e4cc, 0x5bbd83, 0x7f7989, 0x5bfc82,
    ]);
  });

  it('first draws of row seeds 0..999 at step 0 are uniform (Kolmogorov-Smirnov)', () => {
    expect(ksUniform(range(1000).map((seed) => sampleUniform(seed, 0))).pValue).toBeGreaterThanOrEqual(ALPHA);
  });

  it('draws of steps 0..999 of row seed 0 are uniform (Kolmogorov-Smirnov)', () => {
    expect(ksUniform(range(1000).map((step) => sampleUniform(0, step))).pValue).toBeGreaterThanOrEqual(ALPHA);
  });
});

describe('completionSeed', () => {
  it('the first draws of request seeds 0..999 are uniform, for the first completion and the second (Kolmogorov-Smirnov)', () => {
    for (const index of [0, 1]) {
      expect(ksUniform(range(1000).map((seed) => sampleUniform(completionSeed(seed, index), 0))).pValue).toBeGreaterThanOrEqual(ALPHA);
    }
  });

  it('the draws over steps 0..999 of request seed 0 are uniform (Kolmogorov-Smirnov)', () => {
    const rowSeed = completionSeed(0, 0);
    expect(ksUniform(range(1000).map((step) => sampleUniform(rowSeed, step))).pValue).toBeGreaterThanOrEqual(ALPHA);
  });

  it('is the first Philox word for key (seed halves) and counter (index, 0, 0, 1): values from an independent implementation', () => {
    expect([completionSeed(0, 0), completionSeed(1, 0), completionSeed(0, 1), completionSeed(2 ** 53 - 1, 3)]).toEqual([
      0x2dce73e5, 0x127bee41, 0xe9535be3, 0xbeac1b74,
    ]);
  });

  it('both 32-bit halves of the seed count, and so does the completion index', () => {
    const seeds = [0, 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1].flatMap((seed) => [0, 1, 2].map((index) => completionSeed(seed, index)));
    expect(new Set(seeds).size).toBe(seeds.length);
  });
});

describe('fmix32', () => {
  it('matches MurmurHash3 known values and is a bijection on a sample of inputs', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(10_000);
  });
});
