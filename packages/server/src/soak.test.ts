import fc from 'fast-check';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, engineIdle, startServer } from './testing/harness.js';

/**
 * A soak through the server on the reference backend: 300 requests at once, completions and
 * chats, streamed and not, greedy and sampled with random parameters (top-k/p, min-p, penalties,
 * seeds, n, stop strings, logprobs), a fifth of them cancelled by their client at a random point,
 * over a KV pool far too small for them all, so that sequences are preempted and recomputed.
 * Afterwards the engine holds nothing, nothing was logged as an error, every answer that
 * completed is well formed, and each greedy completion is what its prompt gives alone.
 */
const REQUESTS = 300;
const SEED = 18;
const VOCAB = 320;
/** 20 blocks of 16 tokens (KV bytes per block: layers x K,V x block tokens x KV heads x head dim x f32). */
const KV_BLOCKS = 20;
const BLOCK_BYTES = 2 * 2 * 16 * 2 * 16 * 4;

interface Job {
  readonly chat: boolean;
  readonly prompt: number[];
  readonly stream: boolean;
  /** Request fields besides the prompt; greedy jobs have temperature 0. */
  readonly fields: Record<string, unknown>;
  /** Cancel after this many chunks (streams), or as soon as sent (0, any request); undefined: read to the end. */
  readonly cancelAfter: number | undefined;
}

const id = fc.integer({ min: 2, max: VOCAB - 1 });
/** Uniform in 0..99 (fast-check's doubles favour the ends of their range). */
const percent = fc.noBias(fc.integer({ min: 0, max: 99 }));
const sampled = fc.record(
  {
    temperature: fc.double({ min: 0.2, max: 1.5, noNaN: true }),
    top_p: fc.double({ min: 0.3, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 50 }),
    min_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
    seed: fc.integer({ min: 0, max: 1000 }),
  },
  { requiredKeys: ['temperature'] },
);
const greedy = fc.record({ temperature: fc.constant(0) }, { requiredKeys: ['temperature'] });
const job: fc.Arbitrary<Job> = fc
  .record({
    chat: percent.map((x) => x < 30),
    prompt: fc.array(id, { minLength: 1, maxLength: 40 }),
    stream: percent.map((x) => x < 85),
    sampling: fc.oneof(greedy, sampled),
    topLogprobs: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    max_tokens: fc.integer({ min: 1, max: 24 }),
    n: fc.constantFrom(1, 1, 1, 2, 3),
    penalties: fc.option(fc.record({ repetition_penalty: fc.double({ min: 0.8, max: 1.5, noNaN: true }), presence_penalty: fc.double({ min: -1, max: 1, noNaN: true }), frequency_penalty: fc.double({ min: -1, max: 1, noNaN: true }) })),
    stop: fc.option(fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 })),
    ignore_eos: fc.boolean(),
    cancel: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }) }),
  })
  .map(({ chat, prompt, stream, sampling, topLogprobs, cancel, penalties, stop, ...rest }) => {
    // Completions ask for logprobs with a count; chats with a flag and a count.
    const logprobs = topLogprobs === undefined ? {} : chat ? { logprobs: true, top_logprobs: topLogprobs } : { logprobs: topLogprobs };
    return { chat, prompt, stream, fields: { ...rest, ...sampling, ...logprobs, ...penalties, ...(stop === null ? {} : { stop }) }, cancelAfter: cancel };
  });

/** What a request got: each choice's text and finish reason (undefined: cancelled, or cut before it finished). */
type Outcome = { text: string; finish: string | null }[] | undefined;

async function run(client: OpenAI, j: Job): Promise<Outcome> {
  const controller = new AbortController();
  const body = { model: MODEL, ...j.fields, stream: j.stream };
  // The prompt's ids as text for a chat: what matters is that chats run beside completions.
  const request = j.chat
    ? client.chat.completions.create({ ...body, messages: [{ role: 'user', content: j.prompt.join(' ') }] } as never, { signal: controller.signal })
    : client.completions.create({ ...body, prompt: j.prompt } as never, { signal: controller.signal });
  if (j.cancelAfter === 0) controller.abort();
  const choices: { text: string; finish: string | null }[] = [];
  const take = (index: number, text: string | null | undefined, finish: string | null | undefined) => {
    choices[index] ??= { text: '', finish: null };
    choices[index].text += text ?? '';
    choices[index].finish ??= finish ?? null;
  };
  try {
    const response = (await request) as unknown;
    if (!j.stream) {
      for (const c of (response as OpenAI.Completions.Completion).choices) take(c.index, 'text' in c ? c.text : (c as unknown as OpenAI.Chat.ChatCompletion.Choice).message.content, c.finish_reason);
      return choices;
    }
    let chunks = 0;
    for await (const chunk of response as AsyncIterable<OpenAI.Completions.Completion | OpenAI.Chat.ChatCompletionChunk>) {
      if (++chunks === j.cancelAfter) {
        controller.abort();
        return undefined;
      }
      for (const c of chunk.choices) take(c.index, 'text' in c ? c.text : c.delta.content, c.finish_reason);
    }
    return choices;
  } catch (error) {
    if (j.cancelAfter !== undefined) return undefined;
    throw error;
  }
}

describe('soak', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ maxModelLen: 128, maxNumSeqs: 16, kvCacheBytes: KV_BLOCKS * BLOCK_BYTES });
  });
  afterAll(() => server.close());

  it(`${REQUESTS} concurrent requests with random parameters and cancellations, forced preemption: nothing held after, greedy outputs unchanged`, async () => {
    const jobs = fc.sample(job, { seed: SEED, numRuns: REQUESTS });
    const outcomes = await Promise.all(jobs.map((j) => run(server.client, j)));

    await engineIdle(server.llm);
    const stats = server.llm.stats();
    expect(stats).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: 0, freeKvBlocks: stats.kvBlocks });
    expect(stats.preemptions).toBeGreaterThan(0);
    const cancelled = jobs.filter((j) => j.cancelAfter !== undefined).length;
    expect(cancelled).toBeGreaterThan(REQUESTS / 10);

    // Every answer that completed has each of its n choices finished, for a reason.
    let greedyChecked = 0;
    for (const [i, j] of jobs.entries()) {
      const outcome = outcomes[i];
      if (outcome === undefined) continue;
      const n = j.fields['n'] as number;
      expect({ i, finishes: outcome.map((c) => c.finish) }).toEqual({ i, finishes: Array(n).fill(expect.stringMatching(/^(stop|length)$/)) });
      if (j.chat || j.fields['temperature'] !== 0) continue;
      // Greedy: each choice is what the prompt gives alone, with the same parameters.
      const f = j.fields;
      const alone = await server.llm.generate(j.prompt, {
        maxTokens: f['max_tokens'] as number, temperature: 0, ignoreEos: f['ignore_eos'] as boolean, stop: (f['stop'] as string[] | undefined) ?? [],
        repetitionPenalty: (f['repetition_penalty'] as number | undefined) ?? 1, presencePenalty: (f['presence_penalty'] as number | undefined) ?? 0,
        frequencyPenalty: (f['frequency_penalty'] as number | undefined) ?? 0,
      }); // prettier-ignore
      expect({ i, outcome }).toEqual({ i, outcome: Array(n).fill({ text: alone.text, finish: alone.finishReason }) });
      greedyChecked++;
    }
    expect(greedyChecked).toBeGreaterThan(REQUESTS / 5);

    while (server.logs.filter((l) => l.msg === 'request').length < REQUESTS - cancelled) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(server.logs.filter((l) => l.level >= 40)).toEqual([]);
  }, 120_000); // about 10 s alone on 2 cores; longer while CI runs every package's tests at once
});
