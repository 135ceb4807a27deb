import { fixturePath } from '@ignis/models/testing';
import { seededRandom } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { type GenerateResult, LLM, type LLMOptions } from './llm.js';
import { type Job, mixedJobs as mixedVocabJobs, randomTokens as randomVocab } from './mixed-jobs.js';

/**
 * The issue-4 acceptance cases on the reference backend: batching, prefix reuse and preemption
 * change no result, and nothing leaks. "Alone" runs each request by itself with the prefix
 * cache off: the plainest path through the engine, the reference for the batched ones.
 */
const MODEL = fixturePath('llama3-gqa-sharded');
const VOCAB = 320;

const randomTokens = (random: () => number, length: number): number[] => randomVocab(random, VOCAB, length);
const mixedJobs = (count: number, seed: number): Job[] => mixedVocabJobs(count, seed, VOCAB);

async function withLLM<T>(options: LLMOptions, body: (llm: LLM) => Promise<T>): Promise<T> {
  const llm = await LLM.load(MODEL, { device: 'cpu', ...options });
  try {
    return await body(llm);
  } finally {
    llm.dispose();
  }
}

/** Each job by itself, one after another, prefix cache off. */
function runAlone(jobs: readonly Job[]): Promise<number[][]> {
  return withLLM({ enablePrefixCaching: false, maxNumSeqs: 1 }, async (llm) => {
    const outputs: number[][] = [];
    for (const job of jobs) outputs.push([...(await llm.generate(job.prompt, job.params)).tokenIds]);
    return outputs;
  });
}

/** Bytes of KV one block of this fixture takes in f32: 2 layers x K,V x 16 tokens x 2 heads x 16 dims x 4 bytes. */
const BLOCK_BYTES = 2 * 2 * 16 * 2 * 16 * 4;

describe('batching changes no result', () => {
  it('200 requests of mixed lengths, arriving while others run, give what each gives alone', async () => {
    const jobs = mixedJobs(200, 11);
    const alone = await runAlone(jobs);
    const random = seededRandom(5);
    const submitted: Promise<GenerateResult>[] = [];
    let next = 0;
    const submitNext = (): void => {
      submitted.push(llm.generate(jobs[next]!.prompt, jobs[next]!.params));
      next++;
    };
    const llm = await LLM.load(MODEL, {
      device: 'cpu',
      maxNumSeqs: 24,
      maxNumBatchedTokens: 96, // long prompts go in chunks beside running decodes
      events: {
        // New requests arrive between steps, 1 to 4 at a time, while earlier ones run.
        onStep: () => {
          for (let k = 1 + Math.floor(random() * 4); k > 0 && next < jobs.length; k--) submitNext();
        },
      },
    });
    let batched: number[][];
    try {
      submitNext();
      // Every step submits more until all are in, so waiting until nothing new appears waits for all.
      for (let count = 0; count < submitted.length || next < jobs.length; ) {
        count = submitted.length;
        await Promise.all(submitted);
      }
      batched = (await Promise.all(submitted)).map((r) => [...r.tokenIds]);
      expect(llm.stats().steps).toBeLessThan(jobs.length * 8); // they really ran side by side
    } finally {
      llm.dispose();
    }
    expect(batched).toEqual(alone);
  });
});

describe('prefix reuse', () => {
  // Sized to take a second, not minutes, on a busy CI machine (100 x 1,024 tokens took 97 s there).
  it('16 requests sharing a 256-token system prompt compute >= 90% fewer prompt tokens, with the same outputs', async () => {
    const random = seededRandom(3);
    const system = randomTokens(random, 256);
    const prompts = Array.from({ length: 16 }, () => [...system, ...randomTokens(random, 8)]);
    const params = { temperature: 0, maxTokens: 4, ignoreEos: true };
    const run = (enablePrefixCaching: boolean) =>
      withLLM({ enablePrefixCaching, maxModelLen: 1024 }, async (llm) => {
        const results = await llm.generateBatch(prompts, params);
        const { promptTokens, reusedPromptTokens } = llm.stats();
        return { outputs: results.map((r) => r.tokenIds), computed: promptTokens - reusedPromptTokens };
      });
    const off = await run(false);
    const on = await run(true);
    expect(off.computed).toBe(16 * 264);
    expect(on.computed).toBe(264 + 15 * 8); // the first computes its whole prompt, the others their own 8 tokens
    expect(on.computed).toBeLessThanOrEqual(0.1 * off.computed);
    expect(on.outputs).toEqual(off.outputs);
  });
});

describe('preemption', () => {
  it('with a KV pool for a quarter of the batch, every request finishes with the output it has with a large pool', async () => {
    const jobs = mixedJobs(32, 17).map((job) => ({ prompt: job.prompt.slice(0, 40), params: { ...job.params, maxTokens: 24 } }));
    // 32 requests of up to 64 tokens need 4 blocks each: 128 blocks; the small pool has 32.
    const large = await withLLM({ maxNumSeqs: 32 }, (llm) => runBatch(llm, jobs));
    const small = await withLLM({ maxNumSeqs: 32, kvCacheBytes: 33 * BLOCK_BYTES, maxModelLen: 64 }, (llm) => runBatch(llm, jobs));
    expect(large.preemptions).toBe(0);
    expect(small.preemptions).toBeGreaterThan(0);
    expect(small.outputs).toEqual(large.outputs);
  });
});

async function runBatch(llm: LLM, jobs: readonly Job[]): Promise<{ outputs: number[][]; preemptions: number }> {
  const results = await Promise.all(jobs.map((job) => llm.generate(job.prompt, job.params)));
  return { outputs: results.map((r) => [...r.tokenIds]), preemptions: llm.stats().preemptions };
}

describe('no leaks', () => {
  it('after 1,000 random requests with random cancellations, every block is free or cached, and clearing the cache frees all', async () => {
    const random = seededRandom(23);
    const jobs = mixedJobs(1000, 29).map((job) => ({ ...job, prompt: job.prompt.slice(0, 64) }));
    await withLLM({ maxNumSeqs: 16, kvCacheBytes: 41 * BLOCK_BYTES, maxModelLen: 128 }, async (llm) => {
      const finishes = new Map<string, number>();
      let cancelled = 0;
      const all: Promise<void>[] = [];
      for (const job of jobs) {
        const handle = await llm.stream(job.prompt, job.params);
        const when = random();
        if (when < 0.1) {
          handle.abort(); // before it ran
          cancelled++;
        }
        all.push(
          (async () => {
            let deltas = 0;
            for await (const delta of handle) {
              deltas++;
              if (when >= 0.1 && when < 0.25 && deltas === 2) {
                handle.abort(); // mid-stream
                cancelled++;
              }
              if (delta.finishReason) finishes.set(delta.finishReason, (finishes.get(delta.finishReason) ?? 0) + 1);
            }
            await handle.result;
          })(),
        );
        if (random() < 0.05) await Promise.race(all); // let some finish before more arrive
      }
      await Promise.all(all);
      const stats = llm.stats();
      expect(cancelled).toBeGreaterThan(100);
      expect(finishes.get('abort')).toBeGreaterThan(50);
      expect(stats.preemptions).toBeGreaterThan(0);
      expect({ waiting: stats.waiting, running: stats.running, free: stats.freeKvBlocks }).toEqual({ waiting: 0, running: 0, free: stats.kvBlocks });
      expect(stats.cachedKvBlocks).toBeGreaterThan(0);
      expect(llm.resetPrefixCache()).toBe(true);
      expect(llm.stats().cachedKvBlocks).toBe(0);
      expect(llm.stats().freeKvBlocks).toBe(stats.kvBlocks);
    });
  }); // 21 s while CI runs every package's tests at once: within vitest.config.ts's limit
});
