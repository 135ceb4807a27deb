/**
 * The log-softmax normalizer of a row of logits: max + log(sum(exp(x - max))), summed in f64.
 * A token's log-probability is fround(x - normalizer); `sample` and `top_logprobs` share it so
 * that a sampled token's logprob equals its entry among the top ones. `max` may be passed when
 * the caller has it already.
 */
export function logNormalizer(row: Float32Array, max = rowMax(row)): number {
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp(row[i]! - max);
  return max + Math.log(total);
}

function rowMax(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  return max;
}
