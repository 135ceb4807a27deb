import { sampleUniform } from '../../random.js';
import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';
import { logNormalizer } from './log-softmax.js';

/** The outcome of sampling one row. */
export interface RowSample {
  readonly token: number;
  readonly logprob: number;
}

/** Per-row sampling parameters, as the `sample` op takes them. */
export interface RowParams {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly seed: number;
  readonly step: number;
}

/** The smallest normal f32: temperatures below it (0 included) are greedy. */
const FLT_MIN = 2 ** -126;
const FLT_MAX = 3.4028234663852886e38;

/**
 * Samples one row exactly as `OP_DEFS.sample` specifies (the CUDA kernel implements the same
 * rules): thresholds in z = (logits - max) / temperature, then an index-order walk over the kept
 * mass. `order` is scratch of at least `row.length` entries.
 */
export function sampleRow(row: Float32Array, params: RowParams, order: Int32Array): RowSample {
  const vocab = row.length;
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < vocab; i++) {
    if (row[i]! > max) {
      max = row[i]!;
      argmax = i;
    }
  }
  const normalizer = logNormalizer(row, max);
  const logprobOf = (token: number): number => Math.fround(row[token]! - normalizer);
  const t = Math.min(params.temperature, FLT_MAX);
  if (!(t >= FLT_MIN)) return { token: argmax, logprob: logprobOf(argmax) };
  // No finite mass to sample from (outside the contract): the last index, as the CUDA kernel.
  if (!(Math.abs(max) < Infinity)) return { token: vocab - 1, logprob: logprobOf(vocab - 1) };

  // z <= 0 with z = 0 at the max, and never NaN: an overflow is -inf, a token of weight 0.
  const z = (i: number): number => Math.fround(Math.fround(row[i]! - max) / t);
  const p = (i: number): number => Math.exp(z(i));
  let tau = -Infinity;
  if (params.topK > 0 || params.topP < 1) {
    for (let i = 0; i < vocab; i++) order[i] = i;
    const sorted = order.subarray(0, vocab).sort((a, b) => z(b) - z(a) || a - b);
    if (params.topK > 0 && params.topK < vocab) tau = z(sorted[params.topK - 1]!);
    if (params.topP < 1) {
      let mass = 0;
      for (let i = 0; i < vocab && z(sorted[i]!) >= tau; i++) mass += p(sorted[i]!);
      let running = 0;
      for (let i = 0; i < vocab; i++) {
        running += p(sorted[i]!);
        if (running >= params.topP * mass) {
          tau = Math.max(tau, z(sorted[i]!));
          break;
        }
      }
    }
  }
  if (params.minP > 0) tau = Math.max(tau, Math.log(params.minP));

  let kept = 0;
  let last = argmax;
  for (let i = 0; i < vocab; i++) {
    if (z(i) >= tau) {
      kept += p(i);
      last = i;
    }
  }
  const target = sampleUniform(params.seed, params.step) * kept;
  let running = 0;
  for (let i = 0; i < vocab; i++) {
    if (z(i) < tau) continue;
    running += p(i);
    if (running > target) return { token: i, logprob: logprobOf(i) };
  }
  return { token: last, logprob: logprobOf(last) };
}

/** The `sample` op: one token and its log-probability per row of logits. */
export const sample: KernelFactory = (ctx) => {
  const [logitsId, temperatureId, topKId, topPId, minPId, seedId, stepId] = ctx.op.inputs as number[];
  const logits = ctx.f32(logitsId!);
  const temperature = ctx.f32(temperatureId!);
  const topK = ctx.i32(topKId!);
  const topP = ctx.f32(topPId!);
  const minP = ctx.f32(minPId!);
  const seed = ctx.i32(seedId!);
  const step = ctx.i32(stepId!);
  const tokens = ctx.i32(ctx.op.outputs[0]!);
  const logprobs = ctx.f32(ctx.op.outputs[1]!);
  const vocab = fixedDim(ctx, logitsId!, 1);
  const order = new Int32Array(vocab);
  return (dims) => {
    const rows = dimOf(ctx, logitsId!, 0, dims);
    for (let r = 0; r < rows; r++) {
      const result = sampleRow(logits.subarray(r * vocab, (r + 1) * vocab), {
        temperature: temperature[r]!,
        topK: topK[r]!,
        topP: topP[r]!,
        minP: minP[r]!,
        seed: seed[r]! >>> 0,
        step: step[r]!,
      }, order); // prettier-ignore
      tokens[r] = result.token;
      logprobs[r] = result.logprob;
    }
  };
};
