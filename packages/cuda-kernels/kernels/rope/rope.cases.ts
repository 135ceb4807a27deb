import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

/** Rotary cases; positions reach far (up to 100k) to check the f32 angle and its range reduction. */
function ropeCase(rows: number, heads: number, headDim: number, rotaryHalf: number, bench = false): OpCase {
  const freqs = Array.from({ length: rotaryHalf }, (_, j) => Math.fround(1 / 500000 ** ((2 * j) / (2 * rotaryHalf))));
  return {
    kernel: 'rope',
    name: `rope${bench ? ' bench' : ''} T=${rows} heads=${heads} d=${headDim} rotary=${2 * rotaryHalf}`,
    build: (b, dtype) =>
      b.output('out', b.rope('out', b.input('x', dtype, ['T', heads * headDim]), b.input('pos', 'i32', ['T']), b.constant('f', 'f32', [rotaryHalf], freqs), heads, headDim)),
    maxDims: { T: rows },
    weights: () => ({}),
    steps: (random) => [
      { dims: { T: rows }, inputs: { x: randomValues(random, rows * heads * headDim), pos: Int32Array.from({ length: rows }, () => Math.floor(random() * 100_000)) } },
    ],
    tolerance: { f32: 1e-5, bf16: 1e-2 },
    benchOnly: bench,
    cost: bench ? (dtype) => ({ bytes: 2 * rows * heads * headDim * elementBytes(dtype) + rows * 4, flops: 0 }) : undefined,
  };
}

export const ROPE_CASES: OpCase[] = [
  ropeCase(7, 4, 16, 8),
  ropeCase(5, 3, 128, 64),
  ropeCase(4, 2, 64, 16),
  ropeCase(8192, 32, 128, 64, true),
];
