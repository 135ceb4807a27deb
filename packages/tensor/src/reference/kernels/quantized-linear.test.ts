import { describe, expect, it } from 'vitest';
import { compile } from '../../compile/compile.js';
import { DEFAULT_PASSES, quantizeLinears } from '../../compile/passes.js';
import { f32ToFp8e4m3, fp8e4m3ToF32 } from '../../fp8.js';
import { GraphBuilder } from '../../graph/builder.js';
import type { WeightFormat } from '../../graph/weight-format.js';
import { InMemoryWeights } from '../../in-memory-weights.js';
import { seededRandom } from '../../random.js';
import { Tensor } from '../../tensor.js';
import { ReferenceBackend } from '../backend.js';

const CHANNEL_TOKEN: WeightFormat = { scale: { kind: 'channel' }, activation: 'fp8-token' };

/** A one-linear graph y = x @ w^T whose weight `w.weight` [N, K] has `format`. */
async function runLinear(x: number[][], format: WeightFormat, weights: Record<string, Tensor>, N: number): Promise<Float32Array> {
  const K = x[0]!.length;
  const b = new GraphBuilder('q');
  b.output('y', b.linear('y', b.input('x', 'f32', ['T', K]), b.weight('w.weight', 'bf16', [N, K])));
  const plan = compile(b.build(), { maxDims: { T: x.length }, passes: [quantizeLinears('fp8', () => ({ dtype: 'fp8e4m3', format }))] });
  const exe = await new ReferenceBackend().load(plan, InMemoryWeights.of(weights), { loadDims: {} });
  const out = await exe.run({ dims: { T: x.length }, inputs: { x: Float32Array.from(x.flat()) } });
  return out.y!.data as Float32Array;
}

const fp8 = (shape: number[], values: number[]): Tensor => Tensor.fromValues('fp8e4m3', shape, values);
const f32 = (shape: number[], values: number[]): Tensor => Tensor.fromValues('f32', shape, values);
const roundTrip = (v: number): number => fp8e4m3ToF32(f32ToFp8e4m3(v));

describe('FP8 linear on the reference backend', () => {
  it('quantizes each input row by its largest magnitude and scales the code products (a case worked by hand)', async () => {
    // Row [1, -2, 0.5, 4]: s = 4/448 = 1/112 and the codes are 112, -224, 56, 448 (all exact in e4m3).
    // Weight row of ones with scale 0.5: (112 - 224 + 56 + 448) / 112 * 0.5 = 1.75 = x . w exactly.
    const y = await runLinear([[1, -2, 0.5, 4]], CHANNEL_TOKEN, { 'w.weight': fp8([2, 4], [1, 1, 1, 1, 0, 2, 0, -1]), 'w.weight_scale': f32([2], [0.5, 0.25]) }, 2);
    // 4/448 is not exact in f32: the result is within its rounding.
    expect(y[0]).toBeCloseTo(1.75, 6);
    expect(y[1]).toBeCloseTo((-2 * 2 - 4) * 0.25, 6);
  });

  it('matches an emulation written from the format on random inputs, per-token, static and block scales', async () => {
    const random = seededRandom(7);
    const T = 3, N = 4, K = 8; // prettier-ignore
    const x = Array.from({ length: T }, () => Array.from({ length: K }, () => (random() - 0.5) * 10 ** (random() * 4 - 2)));
    const codes = Array.from({ length: N * K }, () => roundTrip((random() - 0.5) * 400));
    const channelScale = Array.from({ length: N }, () => random() / 100);
    const blockScale = Array.from({ length: 2 * 2 }, () => random() / 100); // [N/2, K/4] blocks of 2 x 4
    const emulate = (rowScales: (t: number, g: number) => number, weightScale: (n: number, g: number) => number, group: number): number[] => {
      const out: number[] = [];
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          let sum = 0;
          for (let g = 0; g < K / group; g++) {
            let acc = 0;
            for (let k = g * group; k < (g + 1) * group; k++) acc += roundTrip(Math.fround(x[t]![k]! / rowScales(t, g))) * codes[n * K + k]!;
            sum += acc * rowScales(t, g) * weightScale(n, g);
          }
          out.push(sum);
        }
      }
      return out;
    };
    const absmax = (t: number, from: number, to: number): number => Math.fround(Math.max(...x[t]!.slice(from, to).map(Math.abs)) / 448);
    const expectClose = (actual: Float32Array, expected: number[]): void => {
      const err = Math.hypot(...expected.map((e, i) => e - actual[i]!)) / Math.hypot(...expected);
      expect(err).toBeLessThan(1e-6);
    };

    const w = fp8([N, K], codes);
    expectClose(await runLinear(x, CHANNEL_TOKEN, { 'w.weight': w, 'w.weight_scale': f32([N], channelScale) }, N), emulate((t) => absmax(t, 0, K), (n) => channelScale[n]!, K));
    const staticFormat: WeightFormat = { scale: { kind: 'channel' }, activation: 'fp8-static' };
    const staticWeights = { 'w.weight': w, 'w.weight_scale': f32([N], channelScale), 'w.input_scale': f32([1], [0.02]) };
    expectClose(await runLinear(x, staticFormat, staticWeights, N), emulate(() => 0.02, (n) => channelScale[n]!, K));
    const blockFormat: WeightFormat = { scale: { kind: 'block', rows: 2, cols: 4 }, activation: 'fp8-token-group' };
    const blockWeights = { 'w.weight': w, 'w.weight_scale': f32([2, 2], blockScale) };
    expectClose(await runLinear(x, blockFormat, blockWeights, N), emulate((t, g) => absmax(t, g * 4, g * 4 + 4), (n, g) => blockScale[Math.floor(n / 2) * 2 + g]!, 4));
  });

  it('quantizes a float checkpoint weight per output row at load', async () => {
    const format: WeightFormat = { ...CHANNEL_TOKEN, quantizeFrom: 'bf16' };
    const w = Tensor.fromValues('bf16', [2, 2], [448, -224, 0.5, 0.25]); // row scales 1 and 0.5/448
    const y = await runLinear([[1, 1]], format, { 'w.weight': w }, 2);
    expect(y[0]).toBeCloseTo(224, 4);
    expect(y[1]).toBeCloseTo(0.75, 6);
  });

  it('saturates a static scale that is too small instead of overflowing', async () => {
    const format: WeightFormat = { scale: { kind: 'channel' }, activation: 'fp8-static' };
    const y = await runLinear([[1000, 1]], format, { 'w.weight': fp8([1, 2], [1, 1]), 'w.weight_scale': f32([1], [1]), 'w.input_scale': f32([1], [1]) }, 1);
    expect(y[0]).toBe(448 + 1);
  });
});

describe('quantizeLinears before the fusion passes', () => {
  it('quantizes q/k/v and gate/up, which then fuse with their format and slices; embeddings stay as they are', () => {
    const b = new GraphBuilder('m');
    const ids = b.input('ids', 'i32', ['T']);
    const table = b.weight('embed.weight', 'bf16', [16, 8]);
    const x = b.embedding('e', ids, table, 'f32');
    const [q, k] = ['q', 'k'].map((n) => b.linear(n, x, b.weight(`${n}.weight`, 'bf16', [8, 8])));
    b.output('q', b.add('s', q!, k!));
    const gate = b.linear('g', x, b.weight('gate.weight', 'bf16', [4, 8]));
    const up = b.linear('u', x, b.weight('up.weight', 'bf16', [4, 8]));
    b.output('m', b.siluMul('sm', gate, up));
    const pass = quantizeLinears('fp8', (w) => (w.name.startsWith('q') ? undefined : { dtype: 'fp8e4m3', format: CHANNEL_TOKEN }));
    const plan = compile(b.build(), { maxDims: { T: 2 }, passes: [pass, ...DEFAULT_PASSES] });
    const weights = plan.values.filter((v) => v.kind === 'weight');
    expect(weights.map((v) => [v.name, v.dtype, v.format?.activation ?? '-', v.slices?.map((s) => `${s.name}@${s.at[0]}`).join(' ') ?? '-'])).toStrictEqual([
      ['embed.weight', 'bf16', '-', '-'],
      ['q.weight', 'bf16', '-', '-'],
      ['k.weight', 'fp8e4m3', 'fp8-token', '-'],
      ['fuse(gate.weight, up.weight)', 'fp8e4m3', 'fp8-token', 'gate.weight@0 up.weight@4'],
    ]);
  });
});
