import { demoModelPath } from '@ignis/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLM } from './llm.js';

// Seeded sampling on the bundled model, where a wrong draw shows: after "In the beginning" the
// model puts ~95% on one token, so a seed that lands in the far tail is easy to see.
describe('seeded sampling on ignis-demo-10m', () => {
  const PROMPT = 'In the beginning';
  let llm: LLM;

  beforeAll(async () => {
    llm = await LLM.load(demoModelPath('ignis-demo-10m'), { device: 'cpu' });
  });
  afterAll(() => llm.dispose());

  it('seeds 0 and 1 pick a first token as likely as the median of seeds 0..39 (they drew from the far tail)', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, seed) => llm.generate(PROMPT, { maxTokens: 1, seed })));
    const logprobs = results.map((r) => r.logprobs[0]!);
    const median = [...logprobs].sort((a, b) => a - b)[20]!;
    expect(logprobs[0]).toBeGreaterThanOrEqual(median);
    expect(logprobs[1]).toBeGreaterThanOrEqual(median);
  });

  it('a temperature of 1e-40 samples as greedy does, with finite logprobs (it gave the last token id every step)', async () => {
    const greedy = await llm.generate(PROMPT, { maxTokens: 6, temperature: 0, ignoreEos: true });
    const tiny = await llm.generate(PROMPT, { maxTokens: 6, temperature: 1e-40, seed: 3, ignoreEos: true });
    expect(tiny.tokenIds).toEqual(greedy.tokenIds);
    expect(tiny.logprobs).toEqual(greedy.logprobs);
  });
});
