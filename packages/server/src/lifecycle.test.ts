import { APIUserAbortError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, engineIdle, startServer, until } from './testing/harness.js';
import { SERVER_VERSION } from './version.js';

/** Disconnects, shutdown, the log line of each request, metrics. */
/** vLLM's extra field, spread in so that the client's types let it through. */
const IGNORE_EOS = { ignore_eos: true };
const LONG = { model: MODEL, prompt: [7, 8, 9], max_tokens: 4000, temperature: 0, ...IGNORE_EOS };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const requestLines = (s: TestServer) => s.logs.filter((l) => l.msg === 'request');

/**
 * Waits for `closed` (`s.app.close()`, called while its requests ran, with a short grace period)
 * and checks what the cut-off leaves: nothing running, every KV block back, no line logged at
 * warning or error level, and each request's line says shutdown. Disposes of the engine.
 */
async function cutOffByShutdown(s: TestServer, closed: Promise<unknown>, requests: number): Promise<undefined> {
  await closed;
  expect(s.llm.stats()).toMatchObject({ running: 0, kvCacheUsage: 0 });
  await until(() => requestLines(s).length >= requests); // each line is written once its response has closed
  expect(s.logs.filter((l) => l.level >= 40)).toEqual([]);
  const lines = requestLines(s);
  expect(lines).toHaveLength(requests);
  for (const line of lines) {
    expect(line).toMatchObject({ outcome: 'shutdown', level: 30 });
    expect(line.completionTokens as number).toBeLessThan(8000);
  }
  s.llm.dispose();
  return undefined;
}

describe('a client that disconnects', () => {
  it('mid-stream: its request is aborted at once and its KV blocks freed', async () => {
    server = await startServer({ maxModelLen: 4096 });
    const stream = await server.client.completions.create({ ...LONG, stream: true as const });
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // leaving the loop closes the connection
    await engineIdle(server.llm);
    expect(server.llm.stats().kvCacheUsage).toBe(0);
    await until(() => requestLines(server!).length > 0);
    const [line] = requestLines(server);
    expect(line).toMatchObject({ outcome: 'disconnected', status: 200 });
    expect(line!.completionTokens as number).toBeLessThan(1000); // far from the 4000 asked for
  });

  it('while waiting for a whole (non-streamed) response: the same', async () => {
    server = await startServer({ maxModelLen: 4096 });
    const leaving = new AbortController();
    const pending = server.client.completions.create(LONG, { signal: leaving.signal }).catch((error: unknown) => error);
    await until(() => server!.llm.stats().running > 0);
    leaving.abort();
    expect(await pending).toBeInstanceOf(APIUserAbortError);
    await engineIdle(server.llm);
    expect(server.llm.stats().kvCacheUsage).toBe(0);
    await until(() => requestLines(server!).length > 0);
    expect(requestLines(server)[0]!.completionTokens as number).toBeLessThan(1000);
    expect(server.logs.filter((l) => l.level >= 40)).toEqual([]);
  });
});

describe('app.close()', () => {
  it('refuses new work and lets running requests finish', async () => {
    server = await startServer();
    const stream = await server.client.completions.create({ ...LONG, max_tokens: 300, stream: true as const });
    const iterator = stream[Symbol.asyncIterator]();
    let text = ((await iterator.next()).value as { choices: { text: string }[] }).choices[0]!.text;
    const closed = server.app.close();
    await until(() => !server!.app.server.listening); // not waiting for the running stream
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    let finish: string | null = null;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      text += r.value.choices[0]!.text;
      finish ??= r.value.choices[0]!.finish_reason;
    }
    await closed;
    expect(finish).toBe('length');
    expect(text).toBe((await server.llm.generate(LONG.prompt, { maxTokens: 300, temperature: 0, ignoreEos: true })).text);
    server.llm.dispose();
    server = undefined;
  });

  it('aborts what is still running when the grace period ends: a stream ends with an error event and [DONE], nothing is logged as an error', async () => {
    server = await startServer({ maxModelLen: 8192 }, { shutdownGraceMs: 50 });
    const stream = await server.client.completions.create({ ...LONG, max_tokens: 8000, stream: true as const });
    const closed = server.app.close();
    await expect(async () => {
      for await (const _ of stream);
    }).rejects.toThrow(/the server shut down before the request finished/);
    server = await cutOffByShutdown(server, closed, 1);
  });

  it('the same over raw HTTP: a stream ends with the error event and [DONE]; a whole response gets 503', async () => {
    server = await startServer({ maxModelLen: 8192 }, { shutdownGraceMs: 50 });
    const body = JSON.stringify({ ...LONG, max_tokens: 8000, stream: true });
    const streamed = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const whole = server.post('/v1/completions', { ...LONG, max_tokens: 8000 });
    await until(() => server!.llm.stats().running >= 2);
    const closed = server.app.close();
    const events = (await streamed.text()).split('\n\n').filter((e) => e !== '');
    expect(events.slice(-2)).toEqual([
      `data: ${JSON.stringify({ error: { message: 'the server shut down before the request finished', type: 'server_error', param: null, code: 'shutdown' } })}`,
      'data: [DONE]',
    ]);
    expect(await whole).toMatchObject({ status: 503, body: { error: { code: 'shutdown' } } });
    server = await cutOffByShutdown(server, closed, 2);
  });
});

describe('observability', () => {
  it('one log line per request: ids, token counts, time to first token, total time, status', async () => {
    server = await startServer();
    const response = await server.client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4], max_tokens: 5, n: 2, user: 'ada', ...IGNORE_EOS });
    await server.post('/v1/completions', { model: 'nope', prompt: 'x' });
    await until(() => requestLines(server!).length === 2);
    const lines = requestLines(server);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, reqId: expect.any(String), id: response.id, user: 'ada', url: '/v1/completions', status: 200, outcome: 'ok', promptTokens: 4, completionTokens: 10 });
    expect(lines[0]!.ttftMs).toBeGreaterThan(0);
    expect(lines[0]!.totalMs as number).toBeGreaterThanOrEqual(lines[0]!.ttftMs as number);
    expect(lines[1]).toMatchObject({ status: 404, outcome: 'error', promptTokens: 0, completionTokens: 0 });
  });

  it('health, version and Prometheus metrics named as vLLM names them', async () => {
    // A KV pool of 12 blocks (192 tokens) for two requests of 170 tokens: one is preempted.
    const blockBytes = 2 * 2 * 16 * 2 * 16 * 4; // layers x K,V x block tokens x KV heads x head dim x f32
    server = await startServer({ kvCacheBytes: 12 * blockBytes, maxModelLen: 176 });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/version`)).json()).toEqual({ version: SERVER_VERSION });

    const prompt = Array.from({ length: 40 }, (_, i) => 10 + i);
    const params = { model: MODEL, prompt, max_tokens: 130, temperature: 0, ...IGNORE_EOS };
    const [a, b] = await Promise.all([server.client.completions.create(params), server.client.completions.create(params)]);
    const alone = await server.llm.generate(prompt, { maxTokens: 130, temperature: 0, ignoreEos: true });
    expect([a.choices[0]!.text, b.choices[0]!.text]).toEqual([alone.text, alone.text]); // preemption changes nothing

    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const text = await response.text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*model_name="${MODEL}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const stats = server.llm.stats();
    expect(value('ignis:prompt_tokens_total')).toBe(2 * 40);
    expect(value('ignis:generation_tokens_total')).toBe(2 * 130);
    expect(value('ignis:time_to_first_token_seconds_count')).toBe(2);
    expect(value('ignis:e2e_request_latency_seconds_count')).toBe(2);
    expect(value('ignis:request_queue_time_seconds_count')).toBe(2);
    expect(value('ignis:inter_token_latency_seconds_count')).toBe(2 * 129);
    expect(value('ignis:num_requests_running')).toBe(0);
    expect(value('ignis:num_requests_waiting')).toBe(0);
    expect(value('ignis:kv_cache_usage_perc')).toBe(0);
    expect(value('ignis:num_preemptions_total')).toBe(stats.preemptions);
    expect(stats.preemptions).toBeGreaterThan(0);
    expect(value('ignis:prefix_cache_queries_total')).toBe(stats.promptTokens);
    expect(value('ignis:prefix_cache_hits_total')).toBe(stats.reusedPromptTokens);
    expect(value('ignis:prefix_cache_hit_rate')).toBeCloseTo(stats.reusedPromptTokens / stats.promptTokens, 12);
    expect(stats.reusedPromptTokens).toBeGreaterThan(0); // the second request (or a readmission) found the first one's prompt blocks
    expect(text).toMatch(/^ignis:request_success_total\{finished_reason="length",model_name="llama3-gqa-sharded"\} 2$/m);
    expect(text).toMatch(/^ignis:time_to_first_token_seconds_bucket\{le="0.001",/m);

    // Counters read from the engine move by what the engine's moved between scrapes.
    await server.client.completions.create({ ...params, max_tokens: 2 });
    const again = await (await fetch(`${server.url}/metrics`)).text();
    expect(Number(/^ignis:prefix_cache_queries_total\{[^}]*\} (\S+)$/m.exec(again)![1])).toBe(server.llm.stats().promptTokens);
  });
});
