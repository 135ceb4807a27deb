/**
 * Test helpers for Ignis packages: seeded random data and in-memory weights.
 * Shipped as the `@ignis/tensor/testing` subpath so that other packages' tests can use them.
 */
import type { WeightSource } from '../backend.js';
import type { DType } from '../dtype.js';
import { Tensor } from '../tensor.js';

export { seededRandom } from '../random.js';

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

/** Weights held in memory, by name. */
export class InMemoryWeights implements WeightSource {
  constructor(private readonly tensors: ReadonlyMap<string, Tensor>) {}

  static of(record: Record<string, Tensor>): InMemoryWeights {
    return new InMemoryWeights(new Map(Object.entries(record)));
  }

  info(name: string): { dtype: DType; shape: readonly number[] } | undefined {
    const t = this.tensors.get(name);
    return t && { dtype: t.dtype, shape: t.shape };
  }

  read(name: string): Promise<Tensor> {
    const t = this.tensors.get(name);
    return t ? Promise.resolve(t) : Promise.reject(new Error(`no weight ${name}`));
  }
}

/** ||a - b|| / ||b||: the relative L2 error of `actual` against `expected`. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new RangeError(`lengths differ: ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    diff += d * d;
    norm += expected[i]! * expected[i]!;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}
