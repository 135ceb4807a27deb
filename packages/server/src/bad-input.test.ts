import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, engineIdle, startServer } from './testing/harness.js';

/**
 * Bad requests over raw HTTP: each gets OpenAI's error shape, the right status, and a message
 * naming the field; and none of them disturbs a good request running beside them.
 */
interface Case {
  readonly name: string;
  readonly path?: string;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly param: string | null;
  readonly message: RegExp;
  readonly code?: string;
}

const PROMPT = [10, 20, 30, 40];
const completion = (fields: Record<string, unknown>) => ({ model: MODEL, prompt: PROMPT, max_tokens: 4, ...fields });
const chat = (fields: Record<string, unknown>) => ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...fields });
const MAX_MODEL_LEN = 512;

const CASES: Case[] = [
  { name: 'malformed JSON', body: '{"prompt": [1, 2', status: 400, param: null, message: /not valid JSON/, code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400, param: null, message: /body is empty/, code: 'empty_body' },
  { name: 'body not an object', body: [1, 2], status: 400, param: null, message: /must be a JSON object, got an array/ },
  { name: 'wrong content type', body: 'x', headers: { 'content-type': 'text/csv' }, status: 415, param: null, message: /Content-Type/, code: 'unsupported_media_type' },
  // wrong types
  { name: 'temperature as a string', body: completion({ temperature: 'hot' }), status: 400, param: 'temperature', message: /temperature must be a number, got a string \("hot"\)/ },
  { name: 'max_tokens fractional', body: completion({ max_tokens: 1.5 }), status: 400, param: 'max_tokens', message: /max_tokens must be an integer, got a number \(1.5\)/ },
  { name: 'n as a string', body: completion({ n: '2' }), status: 400, param: 'n', message: /n must be an integer/ },
  { name: 'stream not a boolean', body: completion({ stream: 'yes' }), status: 400, param: 'stream', message: /stream must be true or false/ },
  { name: 'ignore_eos not a boolean', body: completion({ ignore_eos: 1 }), status: 400, param: 'ignore_eos', message: /ignore_eos must be true or false/ },
  { name: 'stop a number', body: completion({ stop: 5 }), status: 400, param: 'stop', message: /stop must be a string or a list of strings, got a number/ },
  { name: 'prompt an object', body: completion({ prompt: { text: 'a' } }), status: 400, param: 'prompt', message: /prompt must be a string, a list of strings, a list of token ids/ },
  { name: 'prompt mixed ids and text', body: completion({ prompt: [1, 'a'] }), status: 400, param: 'prompt', message: /prompt must be/ },
  { name: 'prompt empty list', body: completion({ prompt: [] }), status: 400, param: 'prompt', message: /none empty/ },
  { name: 'completions logprobs true', body: completion({ logprobs: true }), status: 400, param: 'logprobs', message: /logprobs must be an integer/ },
  { name: 'model a number', body: completion({ model: 3 }), status: 400, param: 'model', message: /model must be a string/ },
  { name: 'messages missing', path: '/v1/chat/completions', body: { model: MODEL }, status: 400, param: 'messages', message: /messages must be a non-empty list, got nothing/ },
  { name: 'message without a role', path: '/v1/chat/completions', body: chat({ messages: [{ content: 'hi' }] }), status: 400, param: 'messages[0].role', message: /messages\[0\].role must be a string/ },
  { name: 'image content', path: '/v1/chat/completions', body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), status: 400, param: 'messages[0].content[0]', message: /must be a text part/ },
  { name: 'chat logprobs a number', path: '/v1/chat/completions', body: chat({ logprobs: 3 }), status: 400, param: 'logprobs', message: /logprobs must be true or false/ },
  { name: 'stream_options an array', body: completion({ stream: true, stream_options: [] }), status: 400, param: 'stream_options', message: /stream_options must be an object/ },
  // out of range
  { name: 'temperature < 0', body: completion({ temperature: -0.5 }), status: 400, param: 'temperature', message: /temperature must be in \[0, 3.4028234663852886e\+38\], got -0.5/ },
  { name: 'temperature past float32', body: completion({ temperature: 1e300 }), status: 400, param: 'temperature', message: /temperature must be in \[0, 3.4028234663852886e\+38\], got 1e\+300/ },
  { name: 'top_p > 1', body: completion({ top_p: 1.5 }), status: 400, param: 'top_p', message: /top_p must be in \(0, 1\], got 1.5/ },
  { name: 'top_p 0', body: completion({ top_p: 0 }), status: 400, param: 'top_p', message: /top_p must be in \(0, 1\]/ },
  { name: 'top_k < -1', body: completion({ top_k: -2 }), status: 400, param: 'top_k', message: /top_k must be an integer >= 0/ },
  { name: 'min_p > 1', body: completion({ min_p: 2 }), status: 400, param: 'min_p', message: /min_p must be in \[0, 1\]/ },
  { name: 'n 0', body: completion({ n: 0 }), status: 400, param: 'n', message: /n must be an integer in \[1, 128\], got 0/ },
  { name: 'n 129', body: completion({ n: 129 }), status: 400, param: 'n', message: /n must be an integer in \[1, 128\]/ },
  { name: 'max_tokens 0', body: completion({ max_tokens: 0 }), status: 400, param: 'max_tokens', message: /max_tokens must be an integer >= 1, got 0/ },
  { name: 'max_completion_tokens 0', path: '/v1/chat/completions', body: chat({ max_tokens: undefined, max_completion_tokens: 0 }), status: 400, param: 'max_completion_tokens', message: /max_completion_tokens must be an integer >= 1/ },
  { name: 'presence_penalty 3', body: completion({ presence_penalty: 3 }), status: 400, param: 'presence_penalty', message: /presence_penalty must be in \[-2, 2\]/ },
  { name: 'frequency_penalty -3', body: completion({ frequency_penalty: -3 }), status: 400, param: 'frequency_penalty', message: /frequency_penalty must be in \[-2, 2\]/ },
  { name: 'repetition_penalty 0', body: completion({ repetition_penalty: 0 }), status: 400, param: 'repetition_penalty', message: /repetition_penalty must be in \[1.1754943508222875e-38, 3.4028234663852886e\+38\]/ },
  { name: 'repetition_penalty subnormal', body: completion({ repetition_penalty: 1e-40 }), status: 400, param: 'repetition_penalty', message: /repetition_penalty must be in \[1.17.*\(the positive normal float32 values\), got 1e-40/ },
  { name: 'seed < 0', body: completion({ seed: -1 }), status: 400, param: 'seed', message: /seed must be a non-negative integer/ },
  { name: 'empty stop string', body: completion({ stop: [''] }), status: 400, param: 'stop', message: /stop must be a list of non-empty strings/ },
  { name: 'logprobs -1', body: completion({ logprobs: -1 }), status: 400, param: 'logprobs', message: /logprobs must be an integer in \[0, 20\], got -1/ },
  { name: 'logprobs 21', body: completion({ logprobs: 21 }), status: 400, param: 'logprobs', message: /logprobs must be an integer in \[0, 20\], got 21/ },
  { name: 'top_logprobs 21', path: '/v1/chat/completions', body: chat({ logprobs: true, top_logprobs: 21 }), status: 400, param: 'top_logprobs', message: /top_logprobs must be an integer in \[0, 20\]/ },
  { name: 'token id outside the vocabulary', body: completion({ prompt: [1, 99999] }), status: 400, param: 'prompt', message: /token id 99999 is outside the vocabulary \[0, 320\)/ },
  // unsupported or inconsistent
  { name: 'suffix', body: completion({ suffix: 'end' }), status: 400, param: 'suffix', message: /suffix is not supported/ },
  { name: 'echo with logprobs', body: completion({ echo: true, logprobs: 0 }), status: 400, param: 'echo', message: /echo with logprobs is not supported/ },
  { name: 'top_logprobs without logprobs', path: '/v1/chat/completions', body: chat({ top_logprobs: 0 }), status: 400, param: 'top_logprobs', message: /top_logprobs needs logprobs: true/ },
  { name: 'stream_options without stream', body: completion({ stream_options: { include_usage: true } }), status: 400, param: 'stream_options', message: /only allowed when stream is true/ },
  { name: 'tools', path: '/v1/chat/completions', body: chat({ tools: [] }), status: 400, param: 'tools', message: /tools is not supported/ },
  // model and context
  { name: 'unknown model', body: completion({ model: 'gpt-4' }), status: 404, param: 'model', message: /The model 'gpt-4' does not exist/, code: 'model_not_found' },
  { name: 'unknown model (chat)', path: '/v1/chat/completions', body: chat({ model: 'gpt-4' }), status: 404, param: 'model', message: /does not exist/, code: 'model_not_found' },
  { name: 'prompt as long as the context', body: completion({ prompt: Array(MAX_MODEL_LEN).fill(7) }), status: 400, param: 'prompt', code: 'context_length_exceeded',
    message: new RegExp(`maximum context length is ${MAX_MODEL_LEN} tokens, and the prompt has ${MAX_MODEL_LEN} tokens`) },
  { name: 'prompt + max_tokens over the context', body: completion({ prompt: Array(500).fill(7), max_tokens: 20 }), status: 400, param: 'max_tokens', code: 'context_length_exceeded',
    message: /maximum context length is 512 tokens, but 520 were requested \(500 in the prompt, 20 for the completion\)/ },
  { name: 'chat prompt + max_tokens over the context', path: '/v1/chat/completions', body: chat({ max_tokens: 510 }), status: 400, param: 'max_tokens', code: 'context_length_exceeded', message: /for the completion/ },
  { name: 'tokenize without a prompt', path: '/tokenize', body: { model: MODEL }, status: 400, param: 'prompt', message: /prompt must be a string, got nothing/ },
  { name: 'detokenize ids outside the vocabulary', path: '/detokenize', body: { model: MODEL, tokens: [1, 400] }, status: 400, param: 'tokens', message: /tokens must be a list of token ids in \[0, 320\)/ },
  { name: 'unknown route', path: '/v1/embeddings', body: {}, status: 404, param: null, message: /no route POST \/v1\/embeddings/, code: 'not_found' },
]; // prettier-ignore

describe('bad input', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('each bad request gets its status and error, while a good stream runs beside them unharmed', async () => {
    const good = { prompt: [3, 1, 4, 1, 5, 9, 2, 6], max_tokens: 480, temperature: 0, ignore_eos: true, stream: true as const };
    const streaming = await server.client.completions.create({ model: MODEL, ...good });
    let streamDone = false;
    const collected = (async () => {
      let text = '';
      for await (const chunk of streaming) text += chunk.choices[0]!.text;
      streamDone = true;
      return text;
    })();

    const answers = await Promise.all(CASES.map((c) => server.post(c.path ?? '/v1/completions', c.body, c.headers)));
    expect(streamDone).toBe(false); // they really ran while the good request did
    for (const [i, c] of CASES.entries()) {
      const { status, body } = answers[i]!;
      expect({ case: c.name, status }).toEqual({ case: c.name, status: c.status });
      expect({ case: c.name, body }).toEqual({
        case: c.name,
        body: { error: { message: expect.stringMatching(c.message), type: 'invalid_request_error', param: c.param, code: c.code ?? null } },
      });
    }

    const engine = await server.llm.generate(good.prompt, { maxTokens: 480, temperature: 0, ignoreEos: true });
    expect(await collected).toBe(engine.text);
    await engineIdle(server.llm);
    expect(server.llm.stats().kvCacheUsage).toBe(0);
    // Client errors are logged as requests at info level, never as errors.
    expect(server.logs.filter((l) => l.level >= 40)).toEqual([]);
    expect(server.logs.filter((l) => l.msg === 'request' && l.status === 400)).toHaveLength(CASES.filter((c) => c.status === 400).length);
  });
});

describe('API key', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({}, { apiKey: 'sesame' });
  });
  afterAll(() => server.close());

  it('the API needs the key; health, version and metrics do not', async () => {
    const body = completion({});
    const missing = await server.post('/v1/completions', body, {});
    expect(missing).toMatchObject({ status: 401, body: { error: { type: 'invalid_request_error', code: 'missing_api_key', message: expect.stringMatching(/Authorization: Bearer/) } } });
    const wrong = await server.post('/v1/completions', body, { authorization: 'Bearer open' });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key', message: 'incorrect API key', param: null } } });
    expect((await server.post('/tokenize', { prompt: 'a' })).status).toBe(401);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    // The client built with the key gets through.
    const ok = await server.client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 2 });
    expect(ok.choices).toHaveLength(1);
    for (const path of ['/health', '/version', '/metrics']) expect((await fetch(server.url + path)).status).toBe(200);
  });
});

describe('queue bound', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ maxNumSeqs: 1, maxModelLen: 4096 }, { maxWaitingRequests: 1 });
  });
  afterAll(() => server.close());

  it('a request beyond the waiting bound gets 429 with Retry-After; the admitted ones finish', async () => {
    const request = { model: MODEL, prompt: PROMPT, temperature: 0, stream: true as const, ...{ ignore_eos: true } };
    const running = await server.client.completions.create({ ...request, max_tokens: 4000 }); // takes the one sequence slot for seconds
    const runningIterator = running[Symbol.asyncIterator]();
    await runningIterator.next();
    const waiting = await server.client.completions.create({ ...request, max_tokens: 5 }); // takes the one waiting place
    expect(server.llm.stats()).toMatchObject({ running: 1, waiting: 1 });
    const refused = await server.post('/v1/completions', completion({}));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({
      error: { message: expect.stringMatching(/at capacity: requests waiting 1, at most 1; retry after 1 s/), type: 'rate_limit_error', param: null, code: 'queue_full' },
    });
    running.controller.abort(); // the waiting one runs now
    let text = '';
    let finish: string | null = null;
    for await (const chunk of waiting) {
      text += chunk.choices[0]!.text;
      finish ??= chunk.choices[0]!.finish_reason;
    }
    expect({ text, finish }).toEqual({ text: (await server.llm.generate(PROMPT, { maxTokens: 5, temperature: 0, ignoreEos: true })).text, finish: 'length' });
    expect((await server.post('/v1/completions', completion({}))).status).toBe(200); // room again
  });
});
