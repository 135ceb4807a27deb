import { type Command, Option } from 'commander';
import type { CliIO } from '../io.js';
import { serveTable } from '../report/tables.js';
import { type Endpoint, sendCompletion } from '../serve/client.js';
import { type ServeReport, runLoad } from '../serve/load.js';
import { parseSlo } from '../serve/slo.js';
import { type OutputFlags, type WorkloadFlags, addOutputOptions, addWorkloadOptions, finish, workload } from './common.js';
import { integerAtLeast, integerList, numberAbove, rateList } from './parse.js';

type ServeFlags = WorkloadFlags &
  OutputFlags & {
    baseUrl: string;
    model: string;
    apiKey?: string;
    vocabSize?: number;
    requestRate: number[];
    concurrency?: number[];
    promptsPerConcurrency?: number;
    slo: string;
    timeout: number;
    ignoreEos: boolean;
  };

export function registerServe(program: Command, io: CliIO): void {
  const command = program
    .command('serve')
    .description('load an OpenAI-compatible server (/v1/completions, streamed): Poisson arrivals or fixed concurrency; TTFT, TPOT, ITL, E2E, goodput under SLOs, failures');
  command
    .requiredOption('--base-url <url>', 'the server, e.g. http://127.0.0.1:8000')
    .requiredOption('--model <name>', 'the model name to send')
    .option('--api-key <key>', 'bearer token (default: $OPENAI_API_KEY)')
    .option('--vocab-size <n>', 'random prompts: draw token ids from [1, N) (the served model\'s vocabulary)', integerAtLeast(2));
  addWorkloadOptions(command, { numRequests: 200, inputLen: 128, outputLen: 128 })
    .addOption(new Option('--request-rate <list>', 'requests per second, Poisson arrivals; inf sends all at once; a list sweeps').argParser(rateList).default([Infinity], 'inf'))
    .option('--concurrency <list>', 'most requests in flight; a list sweeps', integerList)
    .option('--prompts-per-concurrency <k>', 'in a concurrency sweep, send the first K x concurrency requests at each point (random prompts: makes enough)', integerAtLeast(1))
    .option('--slo <slo>', 'objectives for goodput, e.g. ttft=200ms,tpot=50ms,e2el=5s', '')
    .option('--timeout <s>', 'per-request time limit in seconds', numberAbove(0), 600)
    .option('--no-ignore-eos', 'do not send ignore_eos (requests may end early)');
  addOutputOptions(command).action(async (flags: ServeFlags) => {
    const slo = parseSlo(flags.slo);
    if (!flags.dataset && !flags.vocabSize) throw new Error('random prompts need --vocab-size N (the served model\'s vocabulary), or pass --dataset FILE');
    const perPoint = flags.promptsPerConcurrency;
    if (perPoint && !flags.concurrency) throw new Error('--prompts-per-concurrency needs --concurrency');
    const most = perPoint ? perPoint * Math.max(...flags.concurrency!) : 0;
    const { requests, description, slug } = await workload({ ...flags, numRequests: Math.max(flags.numRequests, most) }, flags.vocabSize ?? 0);
    if (requests.length < most) throw new Error(`the dataset has ${requests.length} requests; the sweep needs ${most}`);
    const apiKey = flags.apiKey ?? process.env.OPENAI_API_KEY;
    const endpoint: Endpoint = { baseUrl: flags.baseUrl, model: flags.model, apiKey, ignoreEos: flags.ignoreEos, timeoutMs: flags.timeout * 1000 };
    // One short request first, as vLLM's client does: a dead endpoint or a wrong model name stops here.
    const check = await sendCompletion(endpoint, requests[0]!.prompt, requests[0]!.inputLen, 2, performance.now());
    if (!check.ok) throw new Error(`the endpoint check failed: ${check.error}`);
    const runs: ServeReport[] = [];
    for (const requestRate of flags.requestRate) {
      for (const concurrency of flags.concurrency ?? [null]) {
        const shape = { requestRate, concurrency, seed: flags.seed };
        const sent = perPoint && concurrency ? requests.slice(0, perPoint * concurrency) : requests;
        io.stderr(`serve: ${sent.length} requests (${description}) to ${flags.baseUrl}, ${Number.isFinite(requestRate) ? `${requestRate} req/s` : 'all at once'}${concurrency ? `, concurrency ${concurrency}` : ''}\n`);
        const report = await runLoad(endpoint, sent, shape, slo, description, io.progress('requests'));
        if (report.failed > 0) io.stderr(`${report.failed} of ${report.numRequests} requests failed: ${report.failures.map((f) => `${f.count} x ${f.error}`).join('; ')}\n`);
        runs.push(report);
      }
    }
    const load = [flags.requestRate.every((r) => !Number.isFinite(r)) ? '' : `r${flags.requestRate.join('_')}`, flags.concurrency ? `c${flags.concurrency.join('_')}` : ''].filter(Boolean).join('-');
    const shown = { ...flags, apiKey: flags.apiKey ? '(set)' : undefined }; // never save the key
    await finish(io, { kind: 'serve', runs }, `serve-${slug}${load ? `-${load}` : ''}`, shown, [serveTable(runs)]);
  });
}
