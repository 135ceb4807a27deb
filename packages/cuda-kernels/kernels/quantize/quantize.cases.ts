import { Tensor, type WeightFormat, quantizeLinears } from '@ignis/tensor';
import { randomValues } from '@ignis/tensor/testing';
import type { FloatDType, OpCase } from '../../src/harness/case.js';
import { elementBytes } from '../../src/harness/case.js';

// FP8 W8A8 linears: each step quantizes the input (quantize::rows_fp8, per token or with the
// checkpoint's static scale), then one FP8 GEMM applies both scale vectors (gemm::matmul_fp8);
// weights quantized at load go through rows_fp8 too. Against the reference backend's emulation.

/** How the FP8 cases quantize: stored codes with channel scales (per-token or static inputs), or a float weight quantized at load. */
type Fp8Kind = 'token' | 'static' | 'at-load';

/** The weight's format in each kind. */
function fp8Format(kind: Fp8Kind, dtype: FloatDType): WeightFormat {
  return {
    scale: { kind: 'channel' },
    activation: kind === 'static' ? 'fp8-static' : 'fp8-token',
    ...(kind === 'at-load' ? { quantizeFrom: dtype } : {}),
  };
}

/** Random e4m3 codes (never NaN), as a checkpoint stores them. */
function randomCodes(random: () => number, n: number): Uint8Array {
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const code = Math.floor(random() * 254);
    codes[i] = code >= 0x7f ? code + 1 : code; // skip 0x7f, the positive NaN; 254 codes up to 0xfe
  }
  return codes;
}

/** y = x @ w^T (+ bias) with an FP8 (e4m3) weight: W8A8 through the quantization pass, as a checkpoint or --quantization fp8 makes it. */
function fp8LinearCase(rows: number, n: number, k: number, kind: Fp8Kind, options: { bias?: boolean; f32Out?: boolean; bench?: boolean; benchOnly?: boolean } = {}): OpCase {
  const { bias = false, f32Out = false, bench = false, benchOnly = false } = options;
  return {
    kernel: 'quantize',
    name: `fp8 linear (${kind})${bench ? ' bench' : ''} T=${rows} N=${n} K=${k}${bias ? ' +bias' : ''}${f32Out ? ' f32 out' : ''}`,
    build: (b, dtype) => {
      const x = b.input('x', dtype, ['T', k]);
      const w = b.weight('w.weight', dtype, [n, k]);
      b.output('y', b.linear('y', x, w, bias ? b.weight('bias', dtype, [n]) : undefined, f32Out ? 'f32' : undefined));
    },
    passes: (dtype) => [quantizeLinears('fp8', () => ({ dtype: 'fp8e4m3', format: fp8Format(kind, dtype) }))],
    maxDims: { T: rows },
    weights: (random) => {
      const weights: Record<string, Float32Array | Tensor> = {};
      if (kind === 'at-load') {
        weights['w.weight'] = randomValues(random, n * k, 0.1);
      } else {
        weights['w.weight'] = new Tensor('fp8e4m3', [n, k], randomCodes(random, n * k));
        weights['w.weight_scale'] = Tensor.fromValues('f32', [n], Array.from({ length: n }, () => (0.5 + random()) / 448));
        // Inputs are uniform in [-1, 1): this scale saturates the largest 10%, as a stale calibration would.
        if (kind === 'static') weights['w.input_scale'] = Tensor.fromValues('f32', [1], [0.9 / 448]);
      }
      if (bias) weights.bias = randomValues(random, n);
      return weights;
    },
    steps: (random) => [{ dims: { T: rows }, inputs: { x: randomValues(random, rows * k) } }],
    // Hopper's FP8 tensor cores accumulate with about 14 bits of mantissa (DeepSeek-V3's report;
    // measured here: 1.1-1.8e-4 at K = 64..4096 on an H200, 2026-12-04), not f32's 24.
    tolerance: { f32: 5e-4, bf16: 1e-2 },
    benchOnly,
    cost: bench ? (dtype) => ({ bytes: rows * k * elementBytes(dtype) + n * k + rows * n * (f32Out ? 4 : elementBytes(dtype)), flops: 2 * rows * n * k, fp8: true }) : undefined,
  };
}

export const QUANTIZE_CASES: OpCase[] = [
  fp8LinearCase(1, 64, 32, 'token'),
  fp8LinearCase(7, 96, 64, 'token', { bias: true }),
  fp8LinearCase(33, 320, 64, 'static', { f32Out: true }),
  fp8LinearCase(130, 48, 208, 'at-load'),
  fp8LinearCase(5, 64, 128, 'static', { bias: true }),
  // The Llama-3.1-8B shapes of the bf16 cases above, with weights quantized at load from synthetic bf16.
  ...[1, 256, 8192].flatMap((t) =>
    [[6144, 4096], [4096, 4096], [28672, 4096], [4096, 14336]].map(([n, k]) => fp8LinearCase(t, n!, k!, 'at-load', { bench: true, benchOnly: t > 1 || n !== 6144 })),
  ),
];
