import { type KernelFactory, dimOf, fixedDim } from '../kernel.js';

const FLT_MAX = 3.4028234663852886e38;

/**
 * `result` rounded to f32, where a finite `before` stays finite: an overflow saturates at
 * +-FLT_MAX (a tiny repetition penalty must not make a logit +inf and the row's logprobs NaN).
 */
function saturate(before: number, result: number): number {
  const rounded = Math.fround(result);
  return Number.isFinite(rounded) || !Number.isFinite(before) ? rounded : Math.sign(rounded) * FLT_MAX;
}

/**
 * The `penalties` op (see OP_DEFS): repetition over each row's distinct prompt and output tokens,
 * then frequency and presence over its output tokens, each result saturated at +-FLT_MAX. Works
 * in place when the plan gives the output the logits' memory; otherwise copies the row first.
 */
export const penalties: KernelFactory = (ctx) => {
  const [logitsId, tokensId, startId, outputStartId, repetitionId, presenceId, frequencyId] = ctx.op.inputs as number[];
  const logits = ctx.f32(logitsId!);
  const tokens = ctx.i32(tokensId!);
  const start = ctx.i32(startId!);
  const outputStart = ctx.i32(outputStartId!);
  const repetition = ctx.f32(repetitionId!);
  const presence = ctx.f32(presenceId!);
  const frequency = ctx.f32(frequencyId!);
  const out = ctx.f32(ctx.op.outputs[0]!);
  const vocab = fixedDim(ctx, logitsId!, 1);
  const seen = new Uint8Array(vocab); // 1: in the prompt or output; 2: also in the output
  const counts = new Uint8Array(vocab); // 1: seen in the output, presence not yet applied
  return (dims) => {
    const rows = dimOf(ctx, logitsId!, 0, dims);
    if (out !== logits) out.set(logits.subarray(0, rows * vocab));
    for (let r = 0; r < rows; r++) {
      const row = out.subarray(r * vocab, (r + 1) * vocab);
      const [rep, pres, freq] = [repetition[r]!, presence[r]!, frequency[r]!];
      if (rep === 1 && pres === 0 && freq === 0) continue;
      const first = start[r]!;
      const last = start[r + 1]!;
      const outputFrom = first + outputStart[r]!;
      // The same sequence of f32 roundings as the CUDA kernel: repetition once per distinct token,
      // then frequency once per occurrence (repeated subtractions of one constant give the same
      // result in any order), then presence once per distinct output token.
      for (let i = first; i < last; i++) {
        const t = tokens[i]!;
        if (t < 0 || t >= vocab) throw new RangeError(`penalties: token ${t} is outside the vocabulary [0, ${vocab})`);
        if (seen[t] === 0) {
          seen[t] = 1;
          if (rep !== 1) row[t] = saturate(row[t]!, row[t]! > 0 ? row[t]! / rep : row[t]! * rep);
        }
      }
      for (let i = outputFrom; i < last; i++) {
        const t = tokens[i]!;
        if (freq !== 0) row[t] = saturate(row[t]!, row[t]! - freq);
        counts[t] = 1;
      }
      for (let i = outputFrom; i < last; i++) {
        const t = tokens[i]!;
        if (counts[t] === 0) continue; // already applied for an earlier occurrence
        if (pres !== 0) row[t] = saturate(row[t]!, row[t]! - pres);
        counts[t] = 0;
      }
      for (let i = first; i < last; i++) seen[tokens[i]!] = 0;
    }
  };
};
