import { evalDim } from '../../graph/dims.js';
import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';
import { logNormalizer } from './log-softmax.js';

/**
 * The `top_logprobs` op (see OP_DEFS): per row, the `count` largest logits (equal ones in index
 * order) and their log-probabilities. A partial selection: one pass keeping a sorted list of
 * `count` entries, so a step costs O(V * count) at worst and about O(V) in practice.
 */
export const topLogprobs: KernelFactory = (ctx) => {
  const logitsId = ctx.op.inputs[0]!;
  const logits = ctx.f32(logitsId);
  const tokens = ctx.i32(ctx.op.outputs[0]!);
  const logprobs = ctx.f32(ctx.op.outputs[1]!);
  const vocab = fixedDim(ctx, logitsId, 1);
  const countDim = ctx.plan.values[ctx.op.outputs[0]!]!.shape[1]!;
  return (dims) => {
    const rows = dimOf(ctx, logitsId, 0, dims);
    const stride = evalDim(countDim, dims);
    const count = Math.min(stride, vocab); // past the vocabulary: token -1, logprob -Infinity
    if (stride === 0) return;
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      const ids = tokens.subarray(r * stride, r * stride + count);
      let kept = 0;
      for (let i = 0; i < vocab; i++) {
        const x = row[i]!;
        if (kept === count && !(x > row[ids[count - 1]!]!)) continue;
        // Insert after every kept entry at least as large (equal logits stay in index order).
        let at = Math.min(kept, count - 1);
        while (at > 0 && row[ids[at - 1]!]! < x) {
          ids[at] = ids[at - 1]!;
          at--;
        }
        ids[at] = i;
        if (kept < count) kept++;
      }
      const normalizer = logNormalizer(row);
      for (let k = 0; k < stride; k++) {
        logprobs[r * stride + k] = k < count ? Math.fround(row[ids[k]!]! - normalizer) : -Infinity;
        if (k >= count) tokens[r * stride + k] = -1;
      }
    }
  };
};
