#!/usr/bin/env node
/**
 * A small serving load client: streams requests to an OpenAI-compatible server through the
 * official `openai` client, `concurrency` at a time, and prints time to first token (p50, p90)
 * and output tokens/s for each concurrency level. Prompts are random token ids below 256 (every
 * vocabulary has them), so it works with models that have no tokenizer (synthetic:NAME).
 * Built to dist/stream-load.js with the client bundled in:
 *   node dist/stream-load.js --base-url http://127.0.0.1:8000/v1 --concurrency 1,8,64
 */
import { Command, InvalidArgumentError } from 'commander';
import OpenAI from 'openai';

interface LoadOptions {
  baseUrl: string;
  apiKey?: string;
  model?: string;
  concurrency: number[];
  requests?: number;
  inputLen: number;
  outputLen: number;
  json: boolean;
}

/** What one concurrency level measured. */
interface LevelReport {
  concurrency: number;
  requests: number;
  inputLen: number;
  outputLen: number;
  timeToFirstTokenMs: { p50: number; p90: number };
  outputTokensPerSecond: number;
  wallSeconds: number;
}

const positiveList = (value: string): number[] => {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new InvalidArgumentError(`expected comma-separated positive integers, got '${value}'.`);
  return list;
};
const positive = (value: string): number => positiveList(value)[0]!;

/** The q-quantile of `values` (nearest rank). */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** One streamed request: time to its first token and the tokens it generated (from the usage chunk). */
async function streamOne(client: OpenAI, model: string, prompt: number[], outputLen: number): Promise<{ ttftMs: number; tokens: number }> {
  const started = performance.now();
  const stream = await client.completions.create({
    model, prompt, max_tokens: outputLen, temperature: 0, stream: true, stream_options: { include_usage: true },
    ...{ ignore_eos: true }, // vLLM's extension, outside the client's types
  }); // prettier-ignore
  let ttftMs: number | undefined;
  let tokens = 0;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) ttftMs ??= performance.now() - started;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  if (ttftMs === undefined) throw new Error('the stream ended without a token');
  return { ttftMs, tokens };
}

/** Runs `requests` requests, `concurrency` at a time. */
async function runLevel(client: OpenAI, model: string, options: LoadOptions, concurrency: number): Promise<LevelReport> {
  const requests = options.requests ?? Math.max(8, 4 * concurrency);
  let seed = 12345 + concurrency;
  const nextId = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return 1 + (seed % 255);
  };
  const prompts = Array.from({ length: requests }, () => Array.from({ length: options.inputLen }, nextId));
  const results: { ttftMs: number; tokens: number }[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < prompts.length) results.push(await streamOne(client, model, prompts[next++]!, options.outputLen));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallSeconds = (performance.now() - started) / 1000;
  const ttfts = results.map((r) => r.ttftMs);
  return {
    concurrency,
    requests,
    inputLen: options.inputLen,
    outputLen: options.outputLen,
    timeToFirstTokenMs: { p50: percentile(ttfts, 0.5), p90: percentile(ttfts, 0.9) },
    outputTokensPerSecond: results.reduce((sum, r) => sum + r.tokens, 0) / wallSeconds,
    wallSeconds,
  };
}

async function main(options: LoadOptions): Promise<void> {
  const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY ?? 'none';
  const client = new OpenAI({ baseURL: options.baseUrl, apiKey, maxRetries: 0 });
  const model = options.model ?? (await client.models.list()).data[0]!.id;
  await streamOne(client, model, [1, 2, 3], 2); // unmeasured: the server's first request pays for warming up
  for (const concurrency of options.concurrency) {
    const r = await runLevel(client, model, options, concurrency);
    process.stderr.write(
      `${model}, ${r.requests} requests ${r.inputLen} in / ${r.outputLen} out, ${r.concurrency} concurrent: ` +
        `TTFT p50 ${r.timeToFirstTokenMs.p50.toFixed(1)} ms, p90 ${r.timeToFirstTokenMs.p90.toFixed(1)} ms; ` +
        `${r.outputTokensPerSecond.toFixed(1)} output tokens/s\n`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify({ model, ...r })}\n`);
  }
}

const program = new Command('stream-load')
  .description('stream requests to an OpenAI-compatible server; print TTFT p50/p90 and output tokens/s per concurrency level')
  .requiredOption('--base-url <url>', 'the API root, e.g. http://127.0.0.1:8000/v1')
  .option('--api-key <key>', 'bearer key (default: $OPENAI_API_KEY, or none)')
  .option('--model <name>', 'model name (default: the first one /v1/models lists)')
  .option('--concurrency <list>', 'concurrent streams, one level per entry', positiveList, [1, 8, 64])
  .option('--requests <n>', 'requests per level (default: 4 x concurrency, at least 8)', positive)
  .option('--input-len <n>', 'prompt tokens', positive, 128)
  .option('--output-len <n>', 'generated tokens (end of sequence ignored)', positive, 128)
  .option('--json', 'also print one JSON line per level on stdout', false);

main(program.parse(process.argv).opts<LoadOptions>()).catch((error: unknown) => {
  process.stderr.write(`stream-load: error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
