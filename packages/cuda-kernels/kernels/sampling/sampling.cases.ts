import type { OpCase } from '../../src/harness/case.js';

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 2 ** -126;

/** Temperatures of the usual cases, and those at the ends of f32 (subnormal ones are greedy). */
const TEMPERATURES = [0, 0.5, 1, 1.7];
const EXTREME_TEMPERATURES = [1e-40, FLT_MIN, 1e-30, 1e-3, 1e30, FLT_MAX];

/**
 * Logits of std 3 (some rows with heavy ties) and every combination of the sampling knobs. With
 * `extreme`, temperatures at the ends of f32 and, on odd rows, logits saturated at +-FLT_MAX (what
 * a tiny repetition penalty makes of them): no output may be NaN.
 */
function sampleCase(rows: number, vocab: number, { bench = false, extreme = false } = {}): OpCase {
  const temperatures = extreme ? EXTREME_TEMPERATURES : TEMPERATURES;
  const topKs = [0, 1, 5, 50];
  const topPs = [1, 0.9, 0.3];
  const minPs = [0, 0.05];
  return {
    kernel: 'sampling',
    name: `sample${bench ? ' bench' : ''}${extreme ? ' extreme temperatures and logits' : ''} R=${rows} V=${vocab}`,
    dtypes: ['f32'],
    build: (b) => {
      const perRow = (name: string, dtype: 'f32' | 'i32') => b.input(name, dtype, ['R']);
      const [token, logprob] = b.sample('s', b.input('logits', 'f32', ['R', vocab]), {
        temperature: perRow('temperature', 'f32'),
        topK: perRow('top_k', 'i32'),
        topP: perRow('top_p', 'f32'),
        minP: perRow('min_p', 'f32'),
        seed: perRow('seed', 'i32'),
        step: perRow('step', 'i32'),
      });
      b.output('token', token);
      b.output('logprob', logprob);
    },
    maxDims: { R: rows },
    weights: () => ({}),
    steps: (random) => {
      const logits = new Float32Array(rows * vocab);
      for (let r = 0; r < rows; r++) {
        const ties = r % 7 === 3; // a row of few distinct values: many exact ties
        for (let i = 0; i < vocab; i++) {
          const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
          logits[r * vocab + i] = ties ? Math.round(gaussian * 2) : 3 * gaussian;
          if (extreme && r % 2 === 1 && i % 7 === 0) logits[r * vocab + i] = FLT_MAX;
          if (extreme && r % 2 === 1 && i % 11 === 3) logits[r * vocab + i] = -FLT_MAX;
        }
      }
      const pick = <T>(list: T[], r: number, salt: number): T => list[(r * 7 + salt * 13 + Math.floor(r / 5)) % list.length]!;
      return [
        {
          dims: { R: rows },
          inputs: {
            logits,
            temperature: Float32Array.from({ length: rows }, (_, r) => pick(temperatures, r, 0)),
            top_k: Int32Array.from({ length: rows }, (_, r) => pick(topKs, r, 1)),
            top_p: Float32Array.from({ length: rows }, (_, r) => pick(topPs, r, 2)),
            min_p: Float32Array.from({ length: rows }, (_, r) => pick(minPs, r, 3)),
            seed: Int32Array.from({ length: rows }, () => Math.floor(random() * 2 ** 31)),
            step: Int32Array.from({ length: rows }, (_, r) => r * 3),
          },
        },
      ];
    },
    tolerance: { f32: 1e-4, bf16: 1e-4 },
    check: (actual, expected, steps) => {
      const temperature = steps[0]!.inputs.temperature!;
      const got = actual[0]!;
      const want = expected[0]!;
      const same: number[] = [];
      want.token!.forEach((t, r) => {
        if (got.token![r] === t) same.push(r);
      });
      // Float summation order on the GPU may move a sampling boundary on a rare row; greedy rows never.
      const greedyMismatch = want.token!.some((t, r) => got.token![r] !== t && !(temperature[r]! >= FLT_MIN));
      const nan = got.logprob!.some(Number.isNaN);
      const matchLimit = rows >= 100 ? 0.99 : 1;
      const matched = same.length / rows;
      const worst = same.reduce((m, r) => Math.max(m, Math.abs(got.logprob![r]! - want.logprob![r]!)), 0);
      return [
        { output: 'token', metric: 'match', value: matched, limit: matchLimit, pass: matched >= matchLimit && !greedyMismatch },
        { output: 'logprob (rows whose tokens match; NaN anywhere fails)', metric: 'error', value: nan ? Number.NaN : worst, limit: 1e-4, pass: !nan && worst <= 1e-4 },
      ];
    },
    benchOnly: bench,
    cost: bench ? () => ({ bytes: rows * vocab * 4, flops: 0 }) : undefined,
  };
}

export const SAMPLING_CASES: OpCase[] = [
  sampleCase(3, 7),
  sampleCase(24, 1000),
  sampleCase(200, 32000),
  sampleCase(120, 1000, { extreme: true }),
  sampleCase(256, 128256, { bench: true }),
];
