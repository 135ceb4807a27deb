import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

function normCase(rows: number, width: number, fused: boolean, bench = false): OpCase {
  return {
    kernel: 'rmsnorm',
    name: `${fused ? 'add_rmsnorm' : 'rmsnorm'}${bench ? ' bench' : ''} T=${rows} H=${width}`,
    build: (b, dtype) => {
      const x = b.input('x', dtype, ['T', width]);
      const w = b.weight('w', dtype, [width]);
      if (!fused) return b.output('out', b.rmsnorm('out', x, w, 1e-5));
      // add then rmsnorm: compile() fuses them into add_rmsnorm, whose both outputs are checked.
      const sum = b.add('sum', x, b.input('r', dtype, ['T', width]));
      b.output('sum', sum);
      b.output('out', b.rmsnorm('out', sum, w, 1e-6));
    },
    maxDims: { T: rows },
    weights: (random) => ({ w: randomValues(random, width).map((v) => 1 + 0.5 * v) }),
    steps: (random) => {
      const inputs: Record<string, Float32Array> = { x: randomValues(random, rows * width, 3) };
      if (fused) inputs.r = randomValues(random, rows * width, 3);
      return [{ dims: { T: rows }, inputs }];
    },
    tolerance: { f32: 1e-6, bf16: 1e-2 },
    benchOnly: bench,
    cost: bench ? (dtype) => ({ bytes: (fused ? 4 : 2) * rows * width * elementBytes(dtype), flops: 0 }) : undefined,
  };
}

export const RMSNORM_CASES: OpCase[] = [
  normCase(5, 64, false),
  normCase(3, 4100, false),
  normCase(9, 3, false),
  normCase(6, 256, true),
  normCase(2, 5000, true),
  normCase(8192, 4096, false, true),
  normCase(8192, 4096, true, true),
];
