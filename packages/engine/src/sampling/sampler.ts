import type { SamplingParams } from './params.js';

/** One sampled token and its log-probability under the model's unmodified distribution. */
export interface SampledToken {
  readonly tokenId: number;
  readonly logprob: number;
}

/** log(sum(exp(row))), stably. */
function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** Index of the largest value; the first one on ties (as torch.argmax). */
function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topIndices(row: Float32Array, k: number): number[] {
  const order = Array.from({ length: row.length }, (_, i) => i);
  order.sort((a, b) => row[b]! - row[a]! || a - b);
  return order.slice(0, k);
}

/**
 * Samples one token from a row of logits: greedy at temperature 0; otherwise softmax(logits /
 * temperature) restricted by top-k, then top-p, drawn with `random` (the request's seeded generator).
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, random: () => number): SampledToken {
  const logprobOf = (id: number): number => logits[id]! - logSumExp(logits);
  if (params.temperature === 0) {
    const id = argmax(logits);
    return { tokenId: id, logprob: logprobOf(id) };
  }
  const k = params.topK > 0 ? Math.min(params.topK, logits.length) : logits.length;
  const candidates = topIndices(logits, k);
  const max = logits[candidates[0]!]!;
  const weights = candidates.map((id) => Math.exp((logits[id]! - max) / params.temperature));
  let total = weights.reduce((a, b) => a + b, 0);
  if (params.topP < 1) {
    // Smallest prefix (most likely first) whose probability reaches topP; always at least one.
    let cumulative = 0;
    let keep = 0;
    while (keep < weights.length && cumulative < params.topP * total) cumulative += weights[keep++]!;
    weights.length = Math.max(1, keep);
    total = weights.reduce((a, b) => a + b, 0);
  }
  let target = random() * total;
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i]!;
    if (target < 0) return { tokenId: candidates[i]!, logprob: logprobOf(candidates[i]!) };
  }
  const last = candidates[weights.length - 1]!; // rounding left a sliver: take the last kept token
  return { tokenId: last, logprob: logprobOf(last) };
}
