import type { LLM, Tokenizer } from '@ignis/engine';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ServedEngine } from './context.js';
import { DEFAULT_REQUEST_LIMITS, resolveLimits } from './limits.js';
import { MODEL, type TestServer, startServer } from './testing/harness.js';

/**
 * Bounded work per request: each limit gets a 400 (413 for the body) naming the field and the
 * limit, and is checked before the work it bounds: the tokenizer is watched, and a request past a
 * limit must not have reached it.
 */

/** Tokenizer calls the server made. */
const calls = { encode: 0, render: 0 };

/** The engine as the server sees it, with its tokenizer's calls counted. */
function counted(llm: LLM): ServedEngine {
  const inner = llm.tokenizer!;
  const tokenizer: Tokenizer = Object.create(inner) as Tokenizer;
  tokenizer.encode = (text, options) => {
    calls.encode++;
    return inner.encode(text, options);
  };
  tokenizer.applyChatTemplate = (messages, options) => {
    calls.render++;
    return inner.applyChatTemplate(messages, options);
  };
  return { stream: llm.stream.bind(llm), stats: llm.stats.bind(llm), maxModelLen: llm.maxModelLen, tokenizer };
}

const MAX_MODEL_LEN = 512;
/** The fixture's longest vocabulary entries are its 17-character special tokens: 512 x 17 characters fit the context. */
const LONGEST = '<|begin_of_text|>';
const CONTEXT_CHARS = MAX_MODEL_LEN * LONGEST.length;

const error = (param: string | null, message: RegExp, code: string | null = null) => ({
  error: { message: expect.stringMatching(message), type: 'invalid_request_error', param, code },
});
const chat = (messages: number, content = 'hi') => Array.from({ length: messages }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content }));

beforeEach(() => {
  calls.encode = 0;
  calls.render = 0;
});

describe('default limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ maxModelLen: MAX_MODEL_LEN }, {}, { serve: counted });
  });
  afterAll(() => server.close());

  it('a text longer than the context can hold is refused without tokenizing it', async () => {
    const answer = await server.post('/v1/completions', { prompt: 'x'.repeat(CONTEXT_CHARS + 1) });
    expect(answer).toMatchObject({
      status: 400,
      body: error('prompt', new RegExp(`maximum context length is 512 tokens, and prompt has ${CONTEXT_CHARS + 1} characters.*no token is longer than 17 characters, so at most ${CONTEXT_CHARS}`), 'context_length_exceeded'),
    });
    // The same for one of several prompts (named by its index), for a chat, and for /tokenize.
    const several = await server.post('/v1/completions', { prompt: ['a', 'y'.repeat(CONTEXT_CHARS + 1)] });
    expect(several).toMatchObject({ status: 400, body: error('prompt[1]', /prompt\[1\] has 8705 characters/, 'context_length_exceeded') });
    const chatted = await server.post('/v1/chat/completions', { messages: [{ role: 'user', content: 'z'.repeat(CONTEXT_CHARS) }] });
    expect(chatted).toMatchObject({ status: 400, body: error('messages', /messages has \d+ characters/, 'context_length_exceeded') });
    const tokenized = await server.post('/tokenize', { model: MODEL, prompt: 'x'.repeat(CONTEXT_CHARS + 1) });
    expect(tokenized).toMatchObject({ status: 400, body: error('prompt', /prompt has 8705 characters/, 'context_length_exceeded') });
    expect(calls.encode).toBe(0);
  });

  it('the bound is tight: a text of the longest token 510 times (8670 characters, 511 tokens with BOS) is served', async () => {
    const answer = await server.post('/v1/completions', { prompt: LONGEST.repeat(510), max_tokens: 1 });
    expect(answer).toMatchObject({ status: 200, body: { usage: { prompt_tokens: 511, completion_tokens: 1 } } });
  });

  it(`a chat of more than ${DEFAULT_REQUEST_LIMITS.maxChatMessages} messages is refused before its template renders`, async () => {
    const answer = await server.post('/v1/chat/completions', { messages: chat(DEFAULT_REQUEST_LIMITS.maxChatMessages + 1), max_tokens: 1 });
    expect(answer).toMatchObject({ status: 400, body: error('messages', /messages has 2049 entries, more than this server's limit of 2048/) });
    expect(calls).toEqual({ encode: 0, render: 0 });
  });

  it('1,000 prompts x n=128 is refused before any prompt is tokenized', async () => {
    const answer = await server.post('/v1/completions', { prompt: Array(1000).fill('In the beginning'), n: 128, max_tokens: 1 });
    expect(answer).toMatchObject({
      status: 400,
      body: error('n', /this request asks for 128000 sequences \(1000 prompts x n=128\), more than this server's limit of 1024 per request/),
    });
    expect(calls.encode).toBe(0);
    expect(server.llm.stats()).toMatchObject({ waiting: 0, running: 0 });
  });

  it('stop strings: at most 16, of at most 256 characters each', async () => {
    const tooMany = await server.post('/v1/completions', { prompt: [1, 2], stop: Array.from({ length: 17 }, (_, i) => `s${i}`) });
    expect(tooMany).toMatchObject({ status: 400, body: error('stop', /stop has 17 strings, more than this server's limit of 16/) });
    const tooLong = await server.post('/v1/completions', { prompt: [1, 2], stop: ['ok', 'x'.repeat(257)] });
    expect(tooLong).toMatchObject({ status: 400, body: error('stop', /stop\[1\] has 257 characters, more than this server's limit of 256/) });
    const atTheLimits = await server.post('/v1/completions', { prompt: [1, 2], max_tokens: 2, stop: Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(256, '~')) });
    expect(atTheLimits.status).toBe(200);
  });

  it('a body over 4 MiB gets 413 naming the limit', async () => {
    const answer = await server.post('/v1/completions', { prompt: 'x'.repeat(DEFAULT_REQUEST_LIMITS.maxBodyBytes) });
    expect(answer).toMatchObject({
      status: 413,
      body: error(null, /the request body is larger than this server's limit of 4194304 bytes/, 'body_too_large'),
    });
  });
});

describe('limits set by the server', () => {
  let server: TestServer;
  beforeAll(async () => {
    const limits = { maxBodyBytes: 4096, maxPromptChars: 1000, maxChatMessages: 4, maxSequencesPerRequest: 6, maxStopStrings: 2, maxStopStringChars: 5 };
    server = await startServer({ maxModelLen: MAX_MODEL_LEN }, { ...limits, maxWaitingRequests: 4 }, { serve: counted });
  });
  afterAll(() => server.close());

  it('each refuses what is past it, naming the field and the limit, before tokenizing or rendering', async () => {
    const cases: [path: string, body: unknown, status: number, param: string | null, message: RegExp][] = [
      ['/v1/completions', { prompt: 'x'.repeat(1001) }, 400, 'prompt', /prompt has 1001 characters, more than this server's limit of 1000 per prompt/],
      ['/tokenize', { prompt: 'x'.repeat(1001) }, 400, 'prompt', /prompt has 1001 characters, more than this server's limit of 1000/],
      ['/v1/chat/completions', { messages: chat(5) }, 400, 'messages', /messages has 5 entries, more than this server's limit of 4/],
      ['/tokenize', { messages: chat(5) }, 400, 'messages', /messages has 5 entries, more than this server's limit of 4/],
      ['/v1/completions', { prompt: Array(7).fill([1, 2]) }, 400, 'prompt', /7 sequences \(7 prompts x n=1\), more than this server's limit of 6 per request/],
      ['/v1/completions', { prompt: ['a', 'b', 'c'], n: 2 }, 400, 'n', /6 sequences \(3 prompts x n=2\), more than the 4 this server lets wait at once, so it can never be admitted/],
      ['/v1/completions', { prompt: [1, 2], stop: ['a', 'b', 'c'] }, 400, 'stop', /stop has 3 strings, more than this server's limit of 2/],
      ['/v1/completions', { prompt: [1, 2], stop: 'abcdef' }, 400, 'stop', /^stop has 6 characters, more than this server's limit of 5$/],
      ['/v1/completions', { prompt: [1, 2], user: 'u'.repeat(5000) }, 413, null, /larger than this server's limit of 4096 bytes/],
    ];
    for (const [path, body, status, param, message] of cases) {
      const answer = await server.post(path, { model: MODEL, ...(body as object) });
      expect({ path, body: JSON.stringify(body).slice(0, 60), status: answer.status, error: answer.body }).toEqual({
        path, body: JSON.stringify(body).slice(0, 60), status, error: error(param, message, status === 413 ? 'body_too_large' : null),
      }); // prettier-ignore
    }
    expect(calls).toEqual({ encode: 0, render: 0 });
  });

  it('a rendered chat longer than the limit is refused before it is tokenized', async () => {
    const answer = await server.post('/v1/chat/completions', { messages: [{ role: 'user', content: 'x'.repeat(990) }] });
    expect(answer).toMatchObject({ status: 400, body: error('messages', /messages has \d+ characters, more than this server's limit of 1000 per prompt/) });
    expect(calls).toEqual({ encode: 0, render: 1 });
  });

  it('n above the waiting bound is a 400 even on an idle server (it could never fit); n at the bound is served', async () => {
    expect(server.llm.stats()).toMatchObject({ waiting: 0, running: 0 });
    const refused = await server.post('/v1/chat/completions', { messages: chat(1), n: 5, max_tokens: 2 });
    expect(refused).toMatchObject({ status: 400, body: error('n', /5 sequences \(1 prompt x n=5\), more than the 4 this server lets wait at once/) });
    const served = await server.post('/v1/chat/completions', { messages: chat(1), n: 4, max_tokens: 2 });
    expect(served).toMatchObject({ status: 200, body: { choices: [{ index: 0 }, { index: 1 }, { index: 2 }, { index: 3 }] } });
  });

  it('a limit that is not a positive integer is refused when the server is made', () => {
    expect(() => resolveLimits({ maxChatMessages: 0 }, server.llm)).toThrow('maxChatMessages must be a positive integer, got 0');
    expect(() => resolveLimits({ maxBodyBytes: 1.5 }, server.llm)).toThrow('maxBodyBytes must be a positive integer, got 1.5');
    expect(resolveLimits({}, server.llm)).toEqual({ ...DEFAULT_REQUEST_LIMITS, maxPromptChars: CONTEXT_CHARS });
  });
});
