#!/usr/bin/env node
/**
 * Measures how responsive a server stays under hostile requests: sends each of them in turn (a
 * 15 MB text prompt, a chat of 400,000 messages, 1,000 prompts x n=128, 10,000 stop strings) and,
 * while each is in flight, polls `GET /health` one call after another, reporting the slowest
 * answer. The numbers in packages/server/README.md come from it. Built to dist/hostile-probe.js:
 *   node dist/hostile-probe.js --base-url http://127.0.0.1:8000
 */
import { Command, InvalidArgumentError } from 'commander';

interface ProbeOptions {
  baseUrl: string;
  apiKey?: string;
  timeout: number;
  json: boolean;
}

/** One hostile request: where it goes and its JSON body (built before the clock starts). */
interface HostileRequest {
  readonly name: string;
  readonly path: string;
  readonly body: string;
}

/** What one hostile request got, and the slowest /health answer while it was in flight. */
interface ProbeReport {
  name: string;
  bodyBytes: number;
  /** The HTTP status, or `timeout` when the request was cut off after --timeout seconds. */
  status: number | 'timeout';
  answerSeconds: number;
  worstHealthMs: number;
  healthPolls: number;
}

const VERSE = 'In the beginning God created the heaven and the earth. ';

function hostileRequests(): HostileRequest[] {
  const json = (path: string, name: string, body: unknown): HostileRequest => ({ name, path, body: JSON.stringify(body) });
  const messages = Array.from({ length: 400_000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'hi' }));
  return [
    json('/v1/completions', '15 MB text prompt', { prompt: VERSE.repeat(Math.ceil(15e6 / VERSE.length)), max_tokens: 1 }),
    json('/v1/chat/completions', '400,000 chat messages', { messages, max_tokens: 1 }),
    json('/v1/completions', '1,000 prompts x n=128', { prompt: Array.from({ length: 1000 }, () => [1, 2, 3]), n: 128, max_tokens: 1 }),
    json('/v1/completions', '10,000 stop strings of 100 characters', { prompt: [1, 2, 3], stop: Array.from({ length: 10_000 }, (_, i) => `${i}`.padEnd(100, 'x')), max_tokens: 4 }),
  ];
}

/** Polls /health one call after another until `done` settles; the slowest answer and how many there were. */
async function pollHealth(baseUrl: string, done: Promise<unknown>): Promise<{ worstMs: number; polls: number }> {
  let finished = false;
  void done.finally(() => (finished = true));
  let worstMs = 0;
  let polls = 0;
  while (!finished) {
    const started = performance.now();
    await fetch(`${baseUrl}/health`);
    worstMs = Math.max(worstMs, performance.now() - started);
    polls++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { worstMs, polls };
}

async function probe(options: ProbeOptions, request: HostileRequest): Promise<ProbeReport> {
  const headers = { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }) };
  const started = performance.now();
  const answer = fetch(`${options.baseUrl}${request.path}`, { method: 'POST', headers, body: request.body, signal: AbortSignal.timeout(options.timeout * 1000) })
    .then(async (response) => {
      await response.arrayBuffer();
      return response.status;
    })
    .catch((error: unknown) => {
      if (error instanceof DOMException && error.name === 'TimeoutError') return 'timeout' as const;
      throw error;
    });
  const health = await pollHealth(options.baseUrl, answer);
  return {
    name: request.name,
    bodyBytes: Buffer.byteLength(request.body),
    status: await answer,
    answerSeconds: (performance.now() - started) / 1000,
    worstHealthMs: health.worstMs,
    healthPolls: health.polls,
  };
}

async function main(options: ProbeOptions): Promise<void> {
  const idle = await pollHealth(options.baseUrl, new Promise((resolve) => setTimeout(resolve, 1000)));
  process.stderr.write(`idle: worst /health ${idle.worstMs.toFixed(1)} ms over ${idle.polls} polls\n`);
  for (const request of hostileRequests()) {
    const r = await probe(options, request);
    process.stderr.write(
      `${r.name} (${(r.bodyBytes / 1e6).toFixed(1)} MB): ${r.status} after ${r.answerSeconds.toFixed(2)} s; ` +
        `worst /health ${r.worstHealthMs.toFixed(1)} ms over ${r.healthPolls} polls\n`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}

const seconds = (value: string): number => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number of seconds, got '${value}'.`);
  return n;
};

const program = new Command('hostile-probe')
  .description('send hostile requests one at a time; print the worst /health latency while each is in flight')
  .requiredOption('--base-url <url>', 'the server root, e.g. http://127.0.0.1:8000')
  .option('--api-key <key>', 'bearer key, when the server needs one')
  .option('--timeout <s>', 'cut a request off after this many seconds', seconds, 60)
  .option('--json', 'also print one JSON line per request on stdout', false);

main(program.parse(process.argv).opts<ProbeOptions>()).catch((error: unknown) => {
  process.stderr.write(`hostile-probe: error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
