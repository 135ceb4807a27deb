import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

function binaryCase(op: 'add' | 'silu_mul', rows: number, width: number, bench = false): OpCase {
  return {
    kernel: 'elementwise',
    name: `${op}${bench ? ' bench' : ''} T=${rows} W=${width}`,
    build: (b, dtype) => {
      const a = b.input('a', dtype, ['T', width]);
      const c = b.input('b', dtype, ['T', width]);
      b.output('out', op === 'add' ? b.add('out', a, c) : b.siluMul('out', a, c));
    },
    maxDims: { T: rows },
    weights: () => ({}),
    steps: (random) => [{ dims: { T: rows }, inputs: { a: randomValues(random, rows * width, 4), b: randomValues(random, rows * width, 4) } }],
    tolerance: { f32: 1e-6, bf16: 1e-2 },
    benchOnly: bench,
    cost: bench ? (dtype) => ({ bytes: 3 * rows * width * elementBytes(dtype), flops: 0 }) : undefined,
  };
}

/** swiglu over packed [gate | up] rows. */
function swigluCase(rows: number, width: number): OpCase {
  return {
    kernel: 'elementwise',
    name: `swiglu T=${rows} W=${width}`,
    build: (b, dtype) => {
      const [out] = b.op('swiglu', 'out', [b.input('gate_up', dtype, ['T', 2 * width])], {});
      b.output('out', out!);
    },
    maxDims: { T: rows },
    weights: () => ({}),
    steps: (random) => [{ dims: { T: rows }, inputs: { gate_up: randomValues(random, rows * 2 * width, 4) } }],
    tolerance: { f32: 1e-6, bf16: 1e-2 },
  };
}

export const ELEMENTWISE_CASES: OpCase[] = [
  swigluCase(5, 96),
  binaryCase('add', 9, 33),
  binaryCase('silu_mul', 7, 130),
  binaryCase('silu_mul', 4096, 14336, true),
];
