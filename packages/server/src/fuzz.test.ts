import { fileURLToPath } from 'node:url';
import { fixturePath } from '@ignis/models/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, engineIdle, startServer } from './testing/harness.js';

/**
 * Property-based fuzzing of request validation: random bodies, and valid ones with fields
 * replaced by arbitrary JSON, sent to /v1/completions and /v1/chat/completions. Every answer is a
 * 2xx, or a 4xx in OpenAI's error shape whose message carries no path or stack; never a 5xx.
 * The context is short and the sequences per request few, so that the bodies that are valid cost
 * little to serve. A fixed seed keeps CI repeatable (IGNIS_FUZZ_SEED explores others).
 */
const SEED = Number(process.env.IGNIS_FUZZ_SEED ?? 18);
const RUNS = Number(process.env.IGNIS_FUZZ_RUNS ?? 100);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** Strings of any UTF-16 units, lone surrogates included. */
const text = (minLength: number, maxLength: number) => fc.string({ unit: 'binary', minLength, maxLength });

/** Each field's valid values (the ranges the server accepts). */
const SAMPLING = {
  model: fc.constant(MODEL),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0.05, max: 1, noNaN: true }),
  top_k: fc.integer({ min: -1, max: 400 }),
  min_p: fc.double({ min: 0, max: 1, noNaN: true }),
  n: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 2 ** 32 }),
  stop: fc.oneof(text(1, 4), fc.array(text(1, 4), { maxLength: 4 })),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  repetition_penalty: fc.double({ min: 0.1, max: 2, noNaN: true }),
  ignore_eos: fc.boolean(),
  stream: fc.boolean(),
  user: text(0, 8),
};
const tokenIds = fc.array(fc.integer({ min: 0, max: 319 }), { minLength: 1, maxLength: 12 });
const COMPLETION = {
  ...SAMPLING,
  max_tokens: fc.integer({ min: 1, max: 8 }),
  prompt: fc.oneof(text(1, 30), fc.array(text(1, 20), { minLength: 1, maxLength: 3 }), tokenIds, fc.array(tokenIds, { minLength: 1, maxLength: 3 })),
  logprobs: fc.integer({ min: 0, max: 5 }),
};
const part = fc.record({ type: fc.constant('text'), text: text(0, 10) });
const CHAT = {
  ...SAMPLING,
  max_completion_tokens: fc.integer({ min: 1, max: 8 }),
  messages: fc.array(fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.oneof(text(0, 12), fc.array(part, { maxLength: 2 })) }), { minLength: 1, maxLength: 3 }),
  logprobs: fc.boolean(),
};

/** Values no field takes as they are, or only some fields do: any JSON, numbers out of every range, wrong shapes. */
const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1e-40, 1e300, 2 ** 53, -0.5, 129, '', [], {}, [[]], [''], [-1], [1, 'a'], { type: 'image_url' }),
);

/**
 * Bodies of an endpoint: valid ones (the fields it requires, with a token limit for chats so that
 * they stay short, and a random choice of the others),
 * the same with one to three fields replaced by junk or new fields added, and anything at all.
 */
function bodies(fields: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<unknown> {
  const valid = fc.record(fields, { requiredKeys: required });
  const names = [...Object.keys(fields), 'echo', 'stream_options', 'top_logprobs', 'max_tokens', 'suffix', 'tools', 'unknown_field'];
  const mutated = fc
    .tuple(valid, fc.array(fc.tuple(fc.constantFrom(...names), junk), { minLength: 1, maxLength: 3 }))
    .map(([body, changes]) => ({ ...body, ...Object.fromEntries(changes) }));
  const anything = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text(0, 60));
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 2, arbitrary: mutated }, { weight: 1, arbitrary: anything });
}

describe('fuzzed requests', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ maxModelLen: 256 }, { maxSequencesPerRequest: 8 });
  });
  afterAll(() => server.close());

  /** Posts `body` (a string as it is, anything else as JSON) and checks the answer's kind. */
  async function check(path: string, body: unknown): Promise<void> {
    const response = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const raw = await response.text();
    expect(response.status).toBeLessThan(500);
    if (response.status >= 400) {
      expect(JSON.parse(raw)).toEqual({
        error: { message: expect.any(String), type: expect.any(String), param: expect.toBeOneOf([null, expect.any(String)]), code: expect.toBeOneOf([null, expect.any(String)]) },
      });
      const { message } = (JSON.parse(raw) as { error: { message: string } }).error;
      expect(message).not.toContain(REPO);
      expect(message).not.toContain(fixturePath(MODEL));
      expect(message).not.toMatch(/\n\s+at /); // a stack
    } else if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(raw).not.toContain('"error":');
    } else {
      expect(JSON.parse(raw)).toMatchObject({ choices: expect.any(Array), usage: expect.any(Object) });
    }
  }

  it('/v1/completions: random and mutated bodies get a 2xx or a clean 4xx, never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(bodies(COMPLETION, ['prompt']), (body) => check('/v1/completions', body)), { seed: SEED, numRuns: RUNS });
  });

  it('/v1/chat/completions: the same', async () => {
    await fc.assert(fc.asyncProperty(bodies(CHAT, ['messages', 'max_completion_tokens']), (body) => check('/v1/chat/completions', body)), { seed: SEED, numRuns: RUNS });
  });

  it('afterwards the engine holds nothing', async () => {
    await engineIdle(server.llm);
    expect(server.llm.stats()).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: 0 });
    expect(server.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
});
