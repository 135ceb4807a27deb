import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

/** y = x @ w^T (+ bias), optionally with f32 output (the LM head). */
function linearCase(
  rows: number,
  n: number,
  k: number,
  options: { bias?: boolean; f32Out?: boolean; bench?: boolean; benchOnly?: boolean } = {},
): OpCase {
  const { bias = false, f32Out = false, bench = false, benchOnly = false } = options;
  return {
    kernel: 'gemm',
    name: `linear${bench ? ' bench' : ''} T=${rows} N=${n} K=${k}${bias ? ' +bias' : ''}${f32Out ? ' f32 out' : ''}`,
    build: (b, dtype) => {
      const x = b.input('x', dtype, ['T', k]);
      const w = b.weight('w', dtype, [n, k]);
      b.output('y', b.linear('y', x, w, bias ? b.weight('bias', dtype, [n]) : undefined, f32Out ? 'f32' : undefined));
    },
    maxDims: { T: rows },
    weights: (random) => {
      const weights: Record<string, Float32Array> = { w: randomValues(random, n * k, 0.1) };
      if (bias) weights.bias = randomValues(random, n);
      return weights;
    },
    steps: (random) => [{ dims: { T: rows }, inputs: { x: randomValues(random, rows * k) } }],
    tolerance: { f32: 1e-5, bf16: 1e-2 },
    benchOnly,
    cost: bench ? (dtype) => ({ bytes: (rows * k + n * k + rows * n) * elementBytes(dtype), flops: 2 * rows * n * k }) : undefined,
  };
}

export const GEMM_CASES: OpCase[] = [
  linearCase(1, 64, 32),
  linearCase(7, 96, 64, { bias: true }),
  linearCase(33, 320, 64, { f32Out: true }),
  linearCase(130, 48, 200),
  // Llama-3.1-8B shapes after fusion: decode GEMVs (bound by reading the weight) for qkv, o,
  // gate_up, down and the LM head, and prefill chunks (bound by FLOPs).
  linearCase(1, 6144, 4096, { bench: true }),
  linearCase(1, 4096, 4096, { bench: true }),
  linearCase(1, 28672, 4096, { bench: true, benchOnly: true }),
  linearCase(1, 4096, 14336, { bench: true }),
  linearCase(1, 128256, 4096, { f32Out: true, bench: true, benchOnly: true }),
  linearCase(1, 14336, 4096, { bench: true }),
  // Decode at batch 256 (the throughput benchmark's steady state): qkv, o, gate_up, down, LM head.
  linearCase(256, 6144, 4096, { bench: true, benchOnly: true }),
  linearCase(256, 4096, 4096, { bench: true, benchOnly: true }),
  linearCase(256, 28672, 4096, { bench: true, benchOnly: true }),
  linearCase(256, 4096, 14336, { bench: true, benchOnly: true }),
  linearCase(256, 128256, 4096, { f32Out: true, bench: true, benchOnly: true }),
  linearCase(8192, 14336, 4096, { bench: true, benchOnly: true }),
  linearCase(8192, 4096, 4096, { bench: true, benchOnly: true }),
];
