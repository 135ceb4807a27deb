import { seededRandom } from '@ignis/tensor';
import type { SamplingParams } from './sampling/params.js';

/** One request of a synthetic workload: token ids and sampling parameters. */
export interface Job {
  readonly prompt: number[];
  readonly params: Partial<SamplingParams>;
}

/** `length` random token ids in [1, vocab). */
export function randomTokens(random: () => number, vocab: number, length: number): number[] {
  return Array.from({ length }, () => 1 + Math.floor(random() * (vocab - 1)));
}

/**
 * A mixed workload for batching checks (tests and GPU checks): prompts of 1 to `maxPrompt`
 * tokens, a third of them behind a shared 40-token prefix; 1 to `maxTokens` output tokens; 7 in
 * 10 greedy, 2 in 10 seeded sampling (temperature, top-k, top-p), 1 in 10 greedy with penalties.
 * End-of-sequence is ignored so that lengths depend on the parameters alone.
 */
export function mixedJobs(count: number, seed: number, vocab: number, options: { maxPrompt?: number; maxTokens?: number } = {}): Job[] {
  const { maxPrompt = 60, maxTokens = 24 } = options;
  const random = seededRandom(seed);
  const shared = randomTokens(random, vocab, 40);
  return Array.from({ length: count }, (_, i) => {
    const own = randomTokens(random, vocab, 1 + Math.floor(random() * maxPrompt));
    const prompt = random() < 1 / 3 ? [...shared, ...own] : own;
    const tokens = 1 + Math.floor(random() * maxTokens);
    const kind = i % 10;
    const params: Partial<SamplingParams> =
      kind < 7
        ? { temperature: 0, maxTokens: tokens, ignoreEos: true }
        : kind < 9
          ? { temperature: 0.9, topK: 40, topP: 0.95, seed: i, maxTokens: tokens, ignoreEos: true }
          : { temperature: 0, repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.2, maxTokens: tokens, ignoreEos: true };
    return { prompt, params };
  });
}
