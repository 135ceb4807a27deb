import { describe, expect, it } from 'vitest';
import { chiSquare, ksUniform, upperGamma } from './statistics.js';

describe('upperGamma', () => {
  it('matches the closed form for integer a: Q(k, x) = exp(-x) * sum_{i<k} x^i / i!', () => {
    for (const k of [1, 2, 5, 12]) {
      for (const x of [0.1, 1, 7.5, 30]) {
        let term = 1;
        let sum = 0;
        for (let i = 0; i < k; i++) {
          sum += term;
          term *= x / (i + 1);
        }
        expect(upperGamma(k, x)).toBeCloseTo(Math.exp(-x) * sum, 12);
      }
    }
  });

  it('gives the tabulated chi-square tails (0.999 quantiles for 1, 3 and 19 degrees of freedom)', () => {
    for (const [df, quantile] of [[1, 10.828], [3, 16.266], [19, 43.82]] as const) {
      expect(upperGamma(df / 2, quantile / 2)).toBeCloseTo(0.001, 5);
    }
  });
});

describe('chiSquare', () => {
  it('counts exactly as expected give p = 1; a category of probability 0 with a count gives p = 0', () => {
    expect(chiSquare([10, 20, 70], [0.1, 0.2, 0.7])).toEqual({ statistic: 0, pValue: 1 });
    expect(chiSquare([10, 20, 70, 0], [0.1, 0.2, 0.7, 0]).pValue).toBe(1);
    expect(chiSquare([10, 20, 69, 1], [0.1, 0.2, 0.7, 0]).pValue).toBe(0);
  });

  it('computes Pearson statistic and its tail by hand', () => {
    // (30 - 25)^2 / 25 + (20 - 25)^2 / 25 = 2 with 1 degree of freedom: p = erfc(1) = 0.157299...
    const test = chiSquare([30, 20], [0.5, 0.5]);
    expect(test.statistic).toBe(2);
    expect(test.pValue).toBeCloseTo(0.157299207, 8);
  });
});

describe('ksUniform', () => {
  it('measures the largest CDF gap and gives the Kolmogorov tail', () => {
    expect(ksUniform([0.5]).statistic).toBe(0.5);
    expect(ksUniform([0.125, 0.375, 0.625, 0.875]).statistic).toBe(0.125);
    // All samples in the lower half: D = 0.5 for n = 100, far in the tail.
    expect(ksUniform(Array.from({ length: 100 }, (_, i) => i / 200)).pValue).toBeLessThan(1e-15);
    // The tabulated critical values: P(K > 1.3581) = 0.05, P(K > 1.6276) = 0.01 (n large, so the correction is small).
    const n = 1_000_000;
    const withGap = (gap: number): number[] => Array.from({ length: n }, (_, i) => ((i + 1) / n) * (1 - gap)); // D = gap
    expect(ksUniform(withGap(1.3581 / (Math.sqrt(n) + 0.12))).pValue).toBeCloseTo(0.05, 3);
    expect(ksUniform(withGap(1.6276 / (Math.sqrt(n) + 0.12))).pValue).toBeCloseTo(0.01, 3);
    // Evenly spread samples fit perfectly.
    expect(ksUniform(Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000)).pValue).toBe(1);
  });
});
