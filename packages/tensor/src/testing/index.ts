/**
 * Test helpers for Ignis packages: seeded random data, in-memory weights, goodness-of-fit tests.
 * Shipped as the `@ignis/tensor/testing` subpath so that other packages' tests can use them.
 */
import type { DType } from '../dtype.js';
import { Tensor } from '../tensor.js';

export { seededRandom } from '../random.js';
export { InMemoryWeights } from '../in-memory-weights.js';
export { relativeError } from '../metrics.js';
export { type FitTest, chiSquare, ksUniform } from './statistics.js';

/** `n` values uniform in [-scale, scale), never all zero. */
export function randomValues(random: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** A tensor of random values of `dtype`. */
export function randomTensor<D extends DType>(random: () => number, dtype: D, shape: readonly number[], scale = 1): Tensor<D> {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromValues(dtype, shape, randomValues(random, n, scale));
}

