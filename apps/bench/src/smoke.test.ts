import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCuda } from '@ignis/cuda-kernels';
import { LLM } from '@ignis/engine';
import { fixturePath } from '@ignis/models/testing';
import { createServer } from '@ignis/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from './io.js';
import { runCli } from './program.js';
import type { BenchResult } from './report/results.js';
import { type FakeServer, startFakeServer } from './testing/fake-openai.js';

const model = fixturePath('llama3-gqa-sharded');
let dir: string;
let server: FakeServer;

/** Runs `ignis-bench ARGS` in this process; the parsed --json result, and what it printed. */
async function bench(...args: string[]) {
  const io = bufferIO();
  const code = await runCli(args, io);
  const last = io.out.trim().split('\n').at(-1) ?? '';
  return { code, out: io.out, err: io.err, json: (last.startsWith('{') ? JSON.parse(last) : undefined) as BenchResult };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ignis-bench-'));
  server = await startFakeServer({ firstTokenMs: 20, interTokenMs: 3 });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ignis-bench, end to end on a fixture model on the CPU', () => {
  it('lists every command', async () => {
    const help = await bench('--help');
    expect(help.code).toBe(0);
    for (const command of ['dataset', 'throughput', 'latency', 'serve', 'kernels', 'compare']) expect(help.out).toContain(command);
    expect((await bench('throughput', '--num-requests', '0', '--model', model)).code).toBe(2);
  });

  it('makes a dataset and runs it offline: every request generates its full length', async () => {
    const file = join(dir, 'ids.jsonl');
    const made = await bench('dataset', '--model', model, '--num-requests', '12', '--input-len', '24', '--input-std', '6', '--output-len', '5', '--seed', '3', '--out', file);
    expect(made.code).toBe(0);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(12);
    const prompts = (await readFile(file, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { input_ids: number[] }).input_ids.length);
    const { code, json } = await bench('throughput', '--model', model, '--device', 'cpu', '--dataset', file, '--max-num-seqs', '4', '--output', dir, '--json');
    expect(code).toBe(0);
    expect(json.kind).toBe('throughput');
    const r = json.kind === 'throughput' ? json.runs[0]! : undefined;
    expect(r).toMatchObject({ numRequests: 12, outputTokens: 12 * 5, inputTokens: prompts.reduce((a, b) => a + b, 0), workload: 'ids.jsonl', maxNumSeqs: 4, preemptions: 0 });
    expect(r!.meanBatchSize).toBeLessThanOrEqual(4);
    expect(r!.totalTokensPerSecond).toBeCloseTo((r!.inputTokens + r!.outputTokens) / r!.elapsedSeconds, 6);
    for (const key of ['timeToFirstTokenMs', 'timePerOutputTokenMs', 'interTokenLatencyMs', 'endToEndMs'] as const) {
      expect(Object.keys(r![key])).toEqual(['mean', 'p50', 'p90', 'p95', 'p99']);
      expect(r![key].p50).toBeLessThanOrEqual(r![key].p99);
    }
    expect(JSON.parse(await readFile(join(dir, 'throughput-ids.json'), 'utf8'))).toMatchObject({ kind: 'throughput', name: 'throughput-ids' });
  });

  it('measures latency at two concurrencies', async () => {
    const { code, json, err } = await bench('latency', '--model', model, '--device', 'cpu', '--input-len', '16', '--output-len', '6', '--concurrency', '1,2', '--iterations', '1', '--warmup', '0', '--output', dir, '--json');
    expect(code).toBe(0);
    expect(err).toContain('decode tok/s');
    const runs = json.kind === 'latency' ? json.runs : [];
    expect(runs.map((r) => r.concurrency)).toEqual([1, 2]);
    for (const r of runs) expect(r.achievedGBs).toBeCloseTo((r.bytesPerDecodeStep * 1000) / r.median.msPerOutputToken / 1e9, 9);
  });

  it('loads an OpenAI-compatible server with a text dataset at two concurrencies', async () => {
    const file = join(dir, 'text.jsonl');
    expect((await bench('dataset', '--model', model, '--tokens', 'text', '--num-requests', '8', '--input-len', '12', '--output-len', '4', '--out', file)).code).toBe(0);
    // SLOs of an hour: every request meets them however busy the machine, so goodput counts all.
    const { code, json } = await bench('serve', '--base-url', server.baseUrl, '--model', 'fake', '--dataset', file, '--concurrency', '2,4', '--prompts-per-concurrency', '2', '--slo', 'ttft=3600s,tpot=3600s', '--output', dir, '--json');
    expect(code).toBe(0);
    const runs = json.kind === 'serve' ? json.runs : [];
    expect(runs.map((r) => r.concurrency)).toEqual([2, 4]);
    for (const r of runs) {
      const n = 2 * r.concurrency!; // the first 2 x concurrency requests at each point
      expect(r).toMatchObject({ numRequests: n, completed: n, failed: 0, outputTokens: n * 4, goodRequests: n });
      expect(r.peakConcurrency).toBe(r.concurrency);
      expect(r.timeToFirstTokenMs.p50).toBeGreaterThanOrEqual(19);
    }
    expect(typeof server.bodies.at(-1)!.prompt).toBe('string');
    // A dead endpoint stops the run with the reason.
    const dead = await bench('serve', '--base-url', 'http://127.0.0.1:9', '--model', 'fake', '--dataset', file);
    expect(dead.code).toBe(1);
    expect(dead.err).toMatch(/endpoint check failed/);
  });

  it('loads our own server (ignis serve on the reference backend): every request completes with its token count', async () => {
    const llm = await LLM.load(model, { device: 'cpu', maxModelLen: 256 });
    const app = await createServer(llm, { modelName: 'fixture' });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const { code, json } = await bench('serve', '--base-url', url, '--model', 'fixture', '--vocab-size', '320', '--num-requests', '8', '--input-len', '16', '--output-len', '5', '--concurrency', '4', '--json');
      expect(code).toBe(0);
      const run = json.kind === 'serve' ? json.runs[0]! : undefined;
      expect(run).toMatchObject({ numRequests: 8, completed: 8, failed: 0, outputTokens: 8 * 5 }); // ignore_eos: exactly max_tokens each
      expect(llm.stats()).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: 0 });
    } finally {
      await app.close();
      llm.dispose();
    }
  });

  it.skipIf(probeCuda().available)('skips the kernels without a GPU, saying why, and exits 0', async () => {
    const { code, err, json } = await bench('kernels', '--output', dir, '--json');
    expect(code).toBe(0);
    expect(err).toMatch(/skipped: no GPU \(.+\)/);
    expect(json.kind === 'kernels' && json.runs[0]!.skipped).toMatch(/^no GPU/);
  });

  it('compares with peers and prints the ratios; a failed peer is shown', async () => {
    // A stand-in for python3 with transformers: it answers in the peer script's format.
    const python = join(dir, 'fake-python');
    const line = (engine: string, rate: number) => JSON.stringify({ engine, numRequests: 3, elapsedSeconds: 1, inputTokens: 60, outputTokens: rate, requestsPerSecond: 3, outputTokensPerSecond: rate, totalTokensPerSecond: rate + 60, error: null, device: 'fake' });
    await writeFile(python, `#!/bin/sh\necho '${line('transformers-static', 8)}'\necho '{"engine": "transformers-continuous", "error": "RuntimeError: boom"}'\n`);
    await chmod(python, 0o755);
    const { code, json, err } = await bench('compare', '--model', model, '--device', 'cpu', '--num-requests', '6', '--input-len', '20', '--output-len', '4', '--peer-requests', 'transformers-static=3', '--python', python, '--output', dir, '--json');
    expect(code).toBe(0);
    const c = json.kind === 'compare' ? json.runs[0]! : undefined;
    expect(c!.ours.outputTokens).toBe(24);
    expect(c!.peers.map((p) => [p.engine, p.outputTokensPerSecond, p.error])).toEqual([
      ['transformers-static', 8, null],
      ['transformers-continuous', null, 'RuntimeError: boom'],
    ]);
    expect(c!.ratios).toEqual([{ peer: 'transformers-static', outputTokensPerSecond: c!.ours.outputTokensPerSecond! / 8 }]);
    expect(err).toMatch(/ours \/ transformers-static = [\d.]+x/);
    expect(err).toContain('transformers-continuous failed: RuntimeError: boom');
  });

  it('wrote one report with charts in SVG and PNG', async () => {
    const files = await readdir(dir);
    for (const chart of ['throughput-vs-concurrency', 'latency-cdf', 'ttft-tpot-percentiles', 'compare']) {
      expect((await stat(join(dir, `${chart}.svg`))).size, chart).toBeGreaterThan(5_000);
      expect((await stat(join(dir, `${chart}.png`))).size, chart).toBeGreaterThan(10_000);
    }
    expect(files).toContain('report.md');
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    for (const section of ['## Offline throughput', '## Latency', '## Serving load', '## Side by side with peers', '![Latency CDFs']) expect(md).toContain(section);
    await rm(join(dir, 'report.md'));
    expect((await bench('report', dir)).code).toBe(0);
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toBe(md);
    expect((await bench('report', join(dir, 'nothing-here'))).code).toBe(1);
  });
});
