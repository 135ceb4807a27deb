#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type LatencyOptions, runLatency } from './latency.js';
import { type ThroughputOptions, runThroughput } from './throughput.js';

const integer = (min: number) => (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'.`);
  return n;
};

const program = new Command('ignis-bench').description('Ignis benchmarks').exitOverride();

program
  .command('latency')
  .description('one request repeated: time to first token, decode tokens/s, achieved GB/s against the bandwidth ceiling')
  .requiredOption('--model <dir>', 'model directory, or synthetic:NAME (llama-3.1-8b, llama-3.2-1b, mistral-7b, qwen2.5-7b)')
  .addOption(new Option('--device <device>').choices(['auto', 'cpu', 'cuda']).default('auto'))
  .addOption(new Option('--dtype <dtype>').choices(['auto', 'float32', 'bfloat16']).default('auto'))
  .option('--input-len <n>', 'prompt tokens', integer(1), 128)
  .option('--output-len <n>', 'generated tokens', integer(2), 256)
  .option('--iterations <n>', 'measured requests', integer(1), 3)
  .option('--warmup <n>', 'requests before measuring', integer(0), 1)
  .option('--json', 'print the report as JSON on the last line of stdout', false)
  .action(async (options: LatencyOptions & { json: boolean }) => {
    const report = await runLatency(options, (line) => process.stderr.write(`${line}\n`));
    const m = report.median;
    process.stderr.write(
      `${report.model} on ${report.device} (${report.dtype}), ${report.inputLen} in / ${report.outputLen} out: ` +
        `first token ${m.timeToFirstTokenMs.toFixed(1)} ms; decode ${m.decodeTokensPerSecond.toFixed(1)} tokens/s; ` +
        `${report.achievedGBs.toFixed(0)} GB/s` +
        (report.fractionOfBandwidth ? ` = ${(100 * report.fractionOfBandwidth).toFixed(1)}% of ${report.ceilingGBs} GB/s (bound ${report.boundTokensPerSecond!.toFixed(0)} tokens/s)` : '') +
        '\n',
    );
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  });

program
  .command('throughput')
  .description('offline throughput: every request queued at once; requests/s, tokens/s, latency percentiles')
  .requiredOption('--model <dir>', 'model directory, or synthetic:NAME')
  .addOption(new Option('--device <device>').choices(['auto', 'cpu', 'cuda']).default('auto'))
  .addOption(new Option('--dtype <dtype>').choices(['auto', 'float32', 'bfloat16']).default('auto'))
  .option('--num-requests <n>', 'requests', integer(1), 1000)
  .option('--input-len <n>', 'prompt tokens per request', integer(1), 128)
  .option('--output-len <n>', 'generated tokens per request', integer(1), 128)
  .option('--max-num-seqs <n>', 'most sequences per step', integer(1))
  .option('--max-num-batched-tokens <n>', 'most tokens per step', integer(1))
  .option('--shared-prefix <n>', 'prompt tokens every request shares (prefix caching)', integer(0), 0)
  .option('--no-prefix-caching', 'compute every prompt in full')
  .option('--json', 'print the report as JSON on the last line of stdout', false)
  .action(async (options: Omit<ThroughputOptions, 'enablePrefixCaching'> & { prefixCaching: boolean; json: boolean }) => {
    const report = await runThroughput({ ...options, enablePrefixCaching: options.prefixCaching }, (line) => process.stderr.write(`${line}\n`));
    const f = (x: number) => x.toFixed(1);
    process.stderr.write(
      `${report.model} on ${report.device} (${report.dtype}), ${report.numRequests} requests ${report.inputLen} in / ${report.outputLen} out: ` +
        `${f(report.requestsPerSecond)} requests/s, ${f(report.outputTokensPerSecond)} output tokens/s, ${f(report.totalTokensPerSecond)} total tokens/s; ` +
        `TTFT p50 ${f(report.timeToFirstTokenMs.p50)} ms, TPOT p50 ${f(report.timePerOutputTokenMs.p50)} ms, E2E p50 ${f(report.endToEndMs.p50)} ms; ` +
        `prefix hit rate ${(100 * report.prefixCacheHitRate).toFixed(1)}%, peak KV usage ${(100 * report.peakKvCacheUsage).toFixed(1)}%, ` +
        `${report.preemptions} preemptions, ${report.steps} steps of ${f(report.meanBatchSize)} sequences on average; ` +
        `time in the runner ${(100 * report.runShare).toFixed(1)}%, engine host work ${(100 * report.hostShare).toFixed(1)}%\n`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) process.stderr.write(`ignis-bench: error: ${(error as Error).message}\n`);
  process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? 0 : 2) : 1;
}
