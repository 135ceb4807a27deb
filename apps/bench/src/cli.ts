#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type LatencyOptions, runLatency } from './latency.js';

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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) process.stderr.write(`ignis-bench: error: ${(error as Error).message}\n`);
  process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? 0 : 2) : 1;
}
