import { type AddressInfo, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatasetRequest } from '../dataset/format.js';
import { type FakeServer, startFakeServer } from '../testing/fake-openai.js';
import { completionsUrl } from './client.js';
import { poissonArrivals, runLoad } from './load.js';
import { meetsSlo, parseSlo } from './slo.js';
import { SseParser } from './sse.js';

const requests = (n: number, outputLen: number): DatasetRequest[] => Array.from({ length: n }, (_, id) => ({ id, prompt: [1, 2, 3, id + 4], inputLen: 4, outputLen }));
let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('SSE parsing', () => {
  it('joins events split across chunks, in any line ending, and skips comments and other fields', () => {
    const parser = new SseParser();
    expect(parser.push('data: {"a"')).toEqual([]);
    expect(parser.push(':1}\n\n: keep-alive\n\nevent: x\r\ndata: one\r\ndata: two\r')).toEqual(['{"a":1}']);
    expect(parser.push('\n\r\n')).toEqual(['one\ntwo']);
    expect(parser.push('data:[DONE]\r\r')).toEqual([]); // the last '\r' may be half of '\r\n'
    expect(parser.push('\n')).toEqual(['[DONE]']);
  });
});

describe('SLOs and arrivals', () => {
  it('parses objectives and checks requests against them', () => {
    expect(parseSlo('ttft=200ms, tpot=50,e2el=2.5s')).toEqual({ ttft: 200, tpot: 50, e2el: 2500 });
    expect(parseSlo('')).toEqual({});
    expect(() => parseSlo('ttft<200')).toThrow(/bad SLO/);
    const s = { inputTokens: 1, outputTokens: 3, ttftMs: 100, tpotMs: 40, e2eMs: 180 };
    expect(meetsSlo(s, { ttft: 200, tpot: 50 })).toBe(true);
    expect(meetsSlo(s, { tpot: 30 })).toBe(false);
    expect(meetsSlo({ ...s, tpotMs: null }, { tpot: 1 })).toBe(true);
  });

  it('spaces Poisson arrivals at the asked rate, seeded', () => {
    const a = poissonArrivals(2001, 50, 3);
    expect(poissonArrivals(2001, 50, 3)).toEqual(a);
    expect(a[0]).toBe(0);
    expect(a.at(-1)! / 2000).toBeGreaterThan(18); // mean gap 20 ms
    expect(a.at(-1)! / 2000).toBeLessThan(22);
    expect(poissonArrivals(5, Infinity, 1)).toEqual([0, 0, 0, 0, 0]);
    expect(completionsUrl('http://h:1/v1/')).toBe('http://h:1/v1/completions');
  });
});

describe('serving load against a fake OpenAI-compatible server', () => {
  const endpoint = (baseUrl: string) => ({ baseUrl, model: 'fake', ignoreEos: true, timeoutMs: 600_000 }); // no time limit a busy machine could hit

  it('keeps the concurrency, and counts failures, tokens and goodput', async () => {
    server = await startFakeServer({ firstTokenMs: 40, interTokenMs: 10, failEvery: 5 });
    // SLOs of an hour, which every completed request meets however busy the machine; a 1 ms one below, which none can.
    const hour = 3_600_000;
    const report = await runLoad(endpoint(server.baseUrl), requests(12, 6), { requestRate: Infinity, concurrency: 3, seed: 0 }, { ttft: hour, tpot: hour }, 'test');
    expect(server.peakInFlight()).toBe(3);
    expect(report.peakConcurrency).toBe(3);
    const first = server.bodies.find((b) => (b.prompt as number[])[3] === 4); // request 0 (arrival order is the network's)
    expect(first).toMatchObject({ model: 'fake', prompt: [1, 2, 3, 4], max_tokens: 6, stream: true, stream_options: { include_usage: true }, ignore_eos: true });
    expect([report.numRequests, report.completed, report.failed]).toEqual([12, 10, 2]); // the 5th and 10th to arrive get HTTP 500
    expect(report.failures).toEqual([{ error: 'HTTP 500: injected failure', count: 2 }]);
    expect(report.outputTokens).toBe(10 * 6);
    expect(report.outputTokensCountedFrom).toBe('usage');
    expect(report.inputTokens).toBe(10 * 4);
    expect(report.samples).toHaveLength(10);
    // Only what the fake server's delays guarantee however busy the machine: the first token comes
    // at least 40 ms after the request, the last 5 x 10 ms after that. (Gaps the client sees can
    // shrink when it reads late; the next test times the stream exactly, on a fake clock.)
    for (const s of report.samples) {
      expect(s.ttftMs).toBeGreaterThanOrEqual(39);
      expect(s.e2eMs).toBeGreaterThanOrEqual(39 + 5 * 9);
      expect(s.tpotMs).toBeCloseTo((s.e2eMs - s.ttftMs) / 5, 6);
    }
    expect(report.goodRequests).toBe(10);
    expect(report.goodput).toBeCloseTo(10 / report.durationSeconds, 6);
    expect(report.outputTokensPerSecond).toBeCloseTo(60 / report.durationSeconds, 6);
    // 10 streams of at least 40 + 5 x 10 ms on 3 slots (failures return at once).
    expect(report.durationSeconds).toBeGreaterThan(0.27);
    const strict = await runLoad(endpoint(server.baseUrl), requests(4, 3), { requestRate: Infinity, concurrency: null, seed: 0 }, { ttft: 1 }, 'test');
    expect(strict.goodRequests).toBe(0);
  });

  it('times TTFT at the first token, ITL between tokens and end to end at the last token (on a fake clock)', async () => {
    server = await startFakeServer({ firstTokenMs: 1, interTokenMs: 1 });
    // One request at a time, and a clock that moves 1 ms at every reading: the client reads it at
    // the start and at each event, so the first token comes 1 ms after the start, the 6th 6 ms
    // after it, and the usage chunk after that (a reading that must not count as a token's).
    let readings = 0;
    const report = await runLoad(endpoint(server.baseUrl), requests(3, 6), { requestRate: Infinity, concurrency: 1, seed: 0 }, {}, 'test', undefined, () => readings++);
    expect(report.samples).toEqual(Array.from({ length: 3 }, () => ({ inputTokens: 4, outputTokens: 6, ttftMs: 1, tpotMs: 1, e2eMs: 6 })));
    expect(report.interTokenLatencyMs).toMatchObject({ mean: 1, p50: 1, p99: 1 });
    expect(report.durationSeconds).toBe((readings - 1) / 1000); // the first reading and the last one
  });

  it('counts tokens from chunks when the server sends no usage, and reports a dead endpoint', async () => {
    server = await startFakeServer({ firstTokenMs: 5, interTokenMs: 2, noUsage: true });
    const report = await runLoad(endpoint(server.baseUrl), requests(6, 4), { requestRate: 200, concurrency: null, seed: 1 }, {}, 'test');
    expect(report.completed).toBe(6);
    expect(report.outputTokens).toBe(24);
    expect(report.outputTokensCountedFrom).toBe('chunks');
    // A port that was just free: nothing listens there.
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const dead = await runLoad(endpoint(`http://127.0.0.1:${port}`), requests(3, 4), { requestRate: Infinity, concurrency: 2, seed: 0 }, {}, 'test');
    expect(dead.completed).toBe(0);
    expect(dead.failed).toBe(3);
    expect(dead.failures[0]!.error).toMatch(/ECONNREFUSED/);
    expect(dead.goodput).toBe(0);
  });
});
