#!/usr/bin/env node
/**
 * Measures how responsive a server stays under hostile requests: sends each of them in turn (text
 * prompts of 15 and 3 MB, chats of 400,000 and 2,048 messages, many or long stop strings, 4 MB of
 * token ids, 1,000 prompts x n=128) and, while each is in flight, polls `GET /health` one call
 * after another, reporting the slowest answer. The numbers in packages/server/README.md come from it. Built to dist/hostile-probe.js:
 *   node dist/hostile-probe.js --base-url http://127.0.0.1:8000
 */
import { once } from 'node:events';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
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
  /**
   * The HTTP status; `timeout` when the request was cut off after --timeout seconds; `closed` when
   * the connection went before an answer was read (a server that answers 413 at once and closes
   * it while the body is still being sent).
   */
  status: number | 'timeout' | 'closed';
  answerSeconds: number;
  worstHealthMs: number;
  healthPolls: number;
}

const VERSE = 'In the beginning God created the heaven and the earth. ';

function hostileRequests(): HostileRequest[] {
  const json = (path: string, name: string, body: unknown): HostileRequest => ({ name, path, body: JSON.stringify(body) });
  const text = (bytes: number) => VERSE.repeat(Math.ceil(bytes / VERSE.length));
  const chat = (messages: number) => Array.from({ length: messages }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'hi' }));
  return [
    json('/v1/completions', '15 MB text prompt', { prompt: text(15e6), max_tokens: 1 }),
    json('/v1/completions', '3 MB text prompt', { prompt: text(3e6), max_tokens: 1 }),
    json('/v1/chat/completions', '400,000 chat messages', { messages: chat(400_000), max_tokens: 1 }),
    json('/v1/chat/completions', '2,048 chat messages', { messages: chat(2048), max_tokens: 1 }),
    json('/v1/completions', '10,000 stop strings of 100 characters', { prompt: [1, 2, 3], stop: Array.from({ length: 10_000 }, (_, i) => `${i}`.padEnd(100, 'x')), max_tokens: 4 }),
    json('/v1/completions', '16 stop strings of 256 characters, 64 tokens', { prompt: [1, 2, 3], stop: Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(256, 'x')), max_tokens: 64, ignore_eos: true }),
    json('/v1/completions', '1,024 prompts of 800 token ids', { prompt: Array.from({ length: 1024 }, () => Array.from({ length: 800 }, (_, i) => 1000 + (i % 3000))), max_tokens: 1 }),
    // Last: a server that accepts it is busy with it long after.
    json('/v1/completions', '1,000 prompts x n=128', { prompt: Array.from({ length: 1000 }, () => [1, 2, 3]), n: 128, max_tokens: 1 }),
  ];
}

/**
 * Starts polling /health one call after another, and resolves once the polls run; `stop()` ends
 * them and gives the slowest answer and how many there were. The polls run in a worker thread,
 * whose event loop is its own: the stalls measured are the server's, not this process's while it
 * sends a large body.
 */
async function startPolling(baseUrl: string): Promise<{ stop(): Promise<HealthPolls> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { baseUrl } });
  await once(worker, 'message'); // warmed up: its connection is open
  return {
    async stop() {
      worker.postMessage('stop');
      const [polls] = (await once(worker, 'message')) as [HealthPolls];
      await worker.terminate();
      return polls;
    },
  };
}

interface HealthPolls {
  worstMs: number;
  polls: number;
}

/** The worker's side of {@link startPolling}. */
async function pollUntilStopped(baseUrl: string): Promise<void> {
  let stopped = false;
  parentPort!.once('message', () => (stopped = true));
  await fetch(`${baseUrl}/health`);
  parentPort!.postMessage('ready');
  const polls: HealthPolls = { worstMs: 0, polls: 0 };
  while (!stopped) {
    const started = performance.now();
    await fetch(`${baseUrl}/health`);
    polls.worstMs = Math.max(polls.worstMs, performance.now() - started);
    polls.polls++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  parentPort!.postMessage(polls);
}

async function probe(options: ProbeOptions, request: HostileRequest): Promise<ProbeReport> {
  const headers = { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }) };
  const polling = await startPolling(options.baseUrl);
  const started = performance.now();
  const status = await fetch(`${options.baseUrl}${request.path}`, { method: 'POST', headers, body: request.body, signal: AbortSignal.timeout(options.timeout * 1000) })
    .then(async (response) => {
      await response.arrayBuffer();
      return response.status;
    })
    .catch((error: unknown) => {
      if (error instanceof DOMException && error.name === 'TimeoutError') return 'timeout' as const;
      if (error instanceof TypeError) return 'closed' as const; // fetch failed: the connection went (EPIPE, ECONNRESET)
      throw error;
    });
  const answerSeconds = (performance.now() - started) / 1000;
  const health = await polling.stop();
  return { name: request.name, bodyBytes: Buffer.byteLength(request.body), status, answerSeconds, worstHealthMs: health.worstMs, healthPolls: health.polls };
}

async function main(options: ProbeOptions): Promise<void> {
  const polling = await startPolling(options.baseUrl);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = await polling.stop();
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

if (isMainThread) {
  main(program.parse(process.argv).opts<ProbeOptions>()).catch((error: unknown) => {
    process.stderr.write(`hostile-probe: error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
} else {
  await pollUntilStopped((workerData as { baseUrl: string }).baseUrl);
}
