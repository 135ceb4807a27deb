import { randomValues } from '@ignis/tensor/testing';
import type { OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

function embeddingCase(name: string, rows: number, vocab: number, width: number, bench = false): OpCase {
  return {
    kernel: 'embedding',
    name,
    build: (b, dtype) => b.output('out', b.embedding('out', b.input('ids', 'i32', ['T']), b.weight('table', dtype, [vocab, width]), dtype)),
    maxDims: { T: rows },
    weights: (random) => ({ table: randomValues(random, vocab * width) }),
    steps: (random) => [{ dims: { T: rows }, inputs: { ids: Int32Array.from({ length: rows }, () => Math.floor(random() * vocab)) } }],
    tolerance: { f32: 0, bf16: 0 },
    benchOnly: bench,
    cost: bench ? (dtype) => ({ bytes: 2 * rows * width * elementBytes(dtype) + rows * 4, flops: 0 }) : undefined,
  };
}

export const EMBEDDING_CASES: OpCase[] = [
  embeddingCase('embedding T=7 V=50 H=24', 7, 50, 24),
  embeddingCase('embedding T=33 V=1000 H=4 (odd row bytes)', 33, 1000, 3),
  embeddingCase('embedding bench T=8192 V=128256 H=4096', 8192, 128256, 4096, true),
];
