import type { OpCase } from '../../src/harness/case.js';
import { elementsEqual } from '../../src/harness/checks.js';

/** Penalties over random logits and token histories with repeats; some rows neutral. */
function penaltiesCase(rows: number, vocab: number, historyLength: number): OpCase {
  const maxTokens = rows * historyLength;
  return {
    kernel: 'penalties',
    name: `penalties R=${rows} V=${vocab} history=${historyLength}`,
    dtypes: ['f32'],
    build: (b) => {
      const perRow = (name: string, dtype: 'f32' | 'i32') => b.input(name, dtype, ['R']);
      const [out] = b.op(
        'penalties',
        'out',
        [b.input('logits', 'f32', ['R', vocab]), b.input('tokens', 'i32', ['P']), b.input('start', 'i32', ['R+1']), perRow('output_start', 'i32'), perRow('rep', 'f32'), perRow('pres', 'f32'), perRow('freq', 'f32')],
        {},
      );
      b.output('out', out!);
    },
    maxDims: { R: rows, P: maxTokens },
    weights: () => ({}),
    steps: (random) => {
      const logits = Float32Array.from({ length: rows * vocab }, () => (random() * 2 - 1) * 8);
      const tokens: number[] = [];
      const start = [0];
      const outputStart: number[] = [];
      for (let r = 0; r < rows; r++) {
        const n = Math.floor(random() * historyLength) + 1;
        // Few distinct tokens per row, so that repeats (and shared prompt/output tokens) are common.
        const pool = Array.from({ length: 8 }, () => Math.floor(random() * vocab));
        for (let i = 0; i < n; i++) tokens.push(pool[Math.floor(random() * pool.length)]!);
        start.push(tokens.length);
        outputStart.push(Math.floor(random() * (n + 1)));
      }
      const neutral = (r: number): boolean => r % 4 === 3;
      return [
        {
          dims: { R: rows, P: tokens.length },
          inputs: {
            logits,
            tokens: Int32Array.from(tokens),
            start: Int32Array.from(start),
            output_start: Int32Array.from(outputStart),
            rep: Float32Array.from({ length: rows }, (_, r) => (neutral(r) ? 1 : 1 + random())),
            pres: Float32Array.from({ length: rows }, (_, r) => (neutral(r) ? 0 : random() - 0.2)),
            freq: Float32Array.from({ length: rows }, (_, r) => (neutral(r) ? 0 : random() * 0.5)),
          },
        },
      ];
    },
    tolerance: { f32: 1e-6, bf16: 1e-6 },
  };
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * Parameters at the ends of f32 on logits with masks (-inf) and +-FLT_MAX: results that overflow
 * saturate at +-FLT_MAX, masks stay -inf, and both backends agree exactly (each operation is one
 * IEEE rounding), so this case compares every element for equality.
 */
function extremePenaltiesCase(vocab: number): OpCase {
  const reps = [2 ** -126, 1e-30, 1, 1e30, FLT_MAX];
  const shifts = [0, FLT_MAX, -FLT_MAX, 1e38];
  const rows = reps.length * shifts.length;
  const base = penaltiesCase(rows, vocab, 40);
  return {
    ...base,
    name: `penalties extreme parameters R=${rows} V=${vocab}`,
    steps: (random) => {
      const [step] = base.steps(random);
      const logits = Float32Array.from(step!.inputs.logits!, (x, i) => (i % 13 === 0 ? -Infinity : i % 17 === 0 ? FLT_MAX : i % 19 === 0 ? -FLT_MAX : x));
      const param = (pick: (r: number) => number) => Float32Array.from({ length: rows }, (_, r) => pick(r));
      return [
        {
          dims: step!.dims,
          inputs: {
            ...step!.inputs,
            logits,
            rep: param((r) => reps[r % reps.length]!),
            pres: param((r) => shifts[Math.floor(r / reps.length)]!),
            freq: param((r) => -shifts[(Math.floor(r / reps.length) + 1) % shifts.length]!),
          },
        },
      ];
    },
    check: elementsEqual('out'),
  };
}

export const PENALTIES_CASES: OpCase[] = [
  penaltiesCase(4, 50, 30),
  penaltiesCase(37, 32000, 200),
  penaltiesCase(8, 152064, 1000),
  extremePenaltiesCase(300),
];
