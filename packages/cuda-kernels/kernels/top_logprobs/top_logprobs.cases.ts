import type { OpCase } from '../../src/harness/case.js';

/**
 * Top-`count` logprobs of random logits: every third row of few distinct values (exact ties), and
 * every fifth row constant (every element a candidate: more than the kernel's shared memory holds,
 * so its exact fallback runs; not in the benchmark, whose rows are ordinary).
 */
function topLogprobsCase(rows: number, vocab: number, count: number, bench = false): OpCase {
  return {
    kernel: 'top_logprobs',
    name: `top_logprobs${bench ? ' bench' : ''} R=${rows} V=${vocab} L=${count}`,
    dtypes: ['f32'],
    build: (b) => {
      const [token, logprob] = b.op('top_logprobs', 'top', [b.input('logits', 'f32', ['R', vocab])], { count: 'L' });
      b.output('token', token!);
      b.output('logprob', logprob!);
    },
    maxDims: { R: rows, L: count },
    weights: () => ({}),
    steps: (random) => {
      const logits = new Float32Array(rows * vocab);
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < vocab; i++) {
          const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
          logits[r * vocab + i] = !bench && r % 5 === 4 ? 1.5 : r % 3 === 1 ? Math.round(gaussian * 2) : 3 * gaussian;
        }
      }
      // A second step asks for fewer: the output rows are laid out with the step's count.
      return [
        { dims: { R: rows, L: count }, inputs: { logits } },
        { dims: { R: rows, L: Math.max(1, count >> 1) }, inputs: { logits } },
      ];
    },
    tolerance: { f32: 2e-6, bf16: 2e-6 },
    benchOnly: bench,
    cost: bench ? () => ({ bytes: rows * vocab * 4, flops: 0 }) : undefined,
  };
}

export const TOP_LOGPROBS_CASES: OpCase[] = [topLogprobsCase(5, 12, 8), topLogprobsCase(33, 32000, 20), topLogprobsCase(16, 128256, 20), topLogprobsCase(3, 152064, 32), topLogprobsCase(256, 128256, 20, true)];
