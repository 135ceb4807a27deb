import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';

export const GATHER_CASES: OpCase[] = [
  {
    kernel: 'gather',
    name: 'gather_rows T=20 R=6 H=40',
    build: (b, dtype) => b.output('out', b.gatherRows('out', b.input('x', dtype, ['T', 40]), b.input('rows', 'i32', ['R']))),
    maxDims: { T: 20, R: 6 },
    weights: () => ({}),
    steps: (random) => [{ dims: { T: 20, R: 6 }, inputs: { x: randomValues(random, 800), rows: Int32Array.from([19, 0, 7, 7, 3, 12]) } }],
    tolerance: { f32: 0, bf16: 0 },
  },
];
