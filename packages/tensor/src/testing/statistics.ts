/**
 * Goodness-of-fit tests for statistical checks of random draws: each returns its statistic and
 * p-value, and a test passes at significance level alpha when p >= alpha. With fixed seeds the
 * outcome is deterministic: such a test always passes or always fails.
 */

/** A test statistic and the probability of one at least as extreme under the null hypothesis. */
export interface FitTest {
  readonly statistic: number;
  readonly pValue: number;
}

/**
 * Kolmogorov-Smirnov test of `samples` against the uniform distribution on [0, 1): D, the largest
 * distance between the empirical and the uniform CDF, and its p-value from the Kolmogorov
 * distribution with Stephens' correction for finite n (accurate to ~1% for n >= 35).
 */
export function ksUniform(samples: readonly number[]): FitTest {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((u, i) => (d = Math.max(d, (i + 1) / n - u, u - i / n)));
  return { statistic: d, pValue: kolmogorovTail(d * (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n))) };
}

/** P(K > x) for the Kolmogorov distribution: two series, each where it converges fast. */
function kolmogorovTail(x: number): number {
  let sum = 0;
  if (x < 1.18) {
    // P(K <= x) = sqrt(2 pi) / x * sum_k exp(-(2k - 1)^2 pi^2 / (8 x^2))
    for (let k = 1; k <= 20; k++) sum += Math.exp(-((2 * k - 1) ** 2) * Math.PI ** 2 / (8 * x * x));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / x) * sum));
  }
  // P(K > x) = 2 sum_k (-1)^(k-1) exp(-2 k^2 x^2)
  for (let k = 1; k <= 20; k++) sum += 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * x * x);
  return Math.min(1, Math.max(0, sum));
}

/**
 * Pearson's chi-square test of observed counts against expected probabilities (which sum to 1;
 * categories of probability 0 must have count 0 and add no degree of freedom).
 */
export function chiSquare(observed: readonly number[], probabilities: readonly number[]): FitTest {
  const total = observed.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let categories = 0;
  observed.forEach((count, i) => {
    const expected = total * probabilities[i]!;
    if (expected === 0) {
      if (count !== 0) statistic = Infinity;
      return;
    }
    categories++;
    statistic += (count - expected) ** 2 / expected;
  });
  return { statistic, pValue: upperGamma((categories - 1) / 2, statistic / 2) };
}

/** The regularized upper incomplete gamma function Q(a, x) (Numerical Recipes' series and continued fraction). */
export function upperGamma(a: number, x: number): number {
  if (x === Infinity) return 0;
  if (x <= 0) return 1;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * Math.exp(logPrefix);
  }
  // Lentz's method for the continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(logPrefix) * h;
}

/** ln Γ(a) for a > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
function logGamma(a: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (a < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * a)) - logGamma(1 - a);
  const z = a - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
