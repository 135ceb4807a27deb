import { seededRandom } from '@ignis/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, engineIdle, startServer, until } from './testing/harness.js';

/**
 * 200 concurrent streaming requests on loopback, a seeded tenth of them cut off by their client
 * part way: every response that completes is what the engine gives for its prompt alone, every
 * KV block comes back, and nothing is logged as an error.
 */
const REQUESTS = 200;
const VOCAB = 320;

interface Job {
  readonly prompt: number[];
  readonly maxTokens: number;
  /** Cut the stream off after this many chunks (0: right after the headers); undefined: read to the end. */
  readonly disconnectAfter: number | undefined;
}

function jobs(seed: number): Job[] {
  const random = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const shared = Array.from({ length: 32 }, () => int(2, VOCAB - 1)); // some prompts share a prefix, as chats do
  return Array.from({ length: REQUESTS }, () => {
    const own = Array.from({ length: int(1, 40) }, () => int(2, VOCAB - 1));
    return {
      prompt: random() < 0.3 ? [...shared, ...own] : own,
      maxTokens: int(4, 16),
      disconnectAfter: random() < 0.1 ? int(0, 3) : undefined,
    };
  });
}

describe('load', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ maxNumSeqs: 32 });
  });
  afterAll(() => server.close());

  it('200 concurrent streams with random disconnects: correct outputs, KV back to zero, no errors logged', async () => {
    const work = jobs(17);
    const outcomes = await Promise.all(
      work.map(async (job) => {
        const stream = await server.client.completions.create({
          model: MODEL, prompt: job.prompt, max_tokens: job.maxTokens, temperature: 0, stream: true, ...{ ignore_eos: true },
        }); // prettier-ignore
        let text = '';
        let chunks = 0;
        let finish: string | null = null;
        try {
          for await (const chunk of stream) {
            if (chunks++ === job.disconnectAfter) {
              stream.controller.abort();
              break;
            }
            text += chunk.choices[0]!.text;
            finish ??= chunk.choices[0]!.finish_reason;
          }
        } catch (error) {
          if (job.disconnectAfter === undefined) throw error;
        }
        return { text, finish };
      }),
    );

    await engineIdle(server.llm);
    const stats = server.llm.stats();
    expect(stats.kvCacheUsage).toBe(0); // cached prefixes no request holds count as free
    expect(stats.freeKvBlocks).toBe(stats.kvBlocks);
    expect(stats.reusedPromptTokens).toBeGreaterThan(0);

    // Each completed response against the engine's output for that prompt alone (greedy: batching changes nothing).
    let completed = 0;
    for (const [i, job] of work.entries()) {
      if (outcomes[i]!.finish === null) continue;
      completed++;
      const alone = await server.llm.generate(job.prompt, { maxTokens: job.maxTokens, temperature: 0, ignoreEos: true });
      expect({ i, ...outcomes[i] }).toEqual({ i, text: alone.text, finish: 'length' });
    }
    const cut = work.filter((j) => j.disconnectAfter !== undefined).length;
    expect(cut).toBeGreaterThan(10);
    expect(completed).toBeGreaterThanOrEqual(REQUESTS - cut);

    // One log line per request, the cut ones among them as disconnected (those that were still running), and no warnings or errors.
    const requestLines = () => server.logs.filter((l) => l.msg === 'request' && l.url === '/v1/completions');
    await until(() => requestLines().length === REQUESTS);
    expect(server.logs.filter((l) => l.level >= 40)).toEqual([]);
    const lines = requestLines();
    expect(lines).toHaveLength(REQUESTS);
    const disconnected = lines.filter((l) => l.outcome === 'disconnected').length;
    expect(disconnected).toBeGreaterThan(0);
    expect(disconnected).toBeLessThanOrEqual(cut);
    expect(lines.filter((l) => l.outcome === 'ok')).toHaveLength(REQUESTS - disconnected);
  }); // about 5 s alone on 2 cores, 50 s while CI runs every package's tests at once: within vitest.config.ts's limit
});
