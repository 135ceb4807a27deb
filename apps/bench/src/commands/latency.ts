import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { runLatency } from '../latency.js';
import { latencyTable } from '../report/tables.js';
import { type EngineFlags, type OutputFlags, addEngineOptions, addOutputOptions, engineOptions, finish } from './common.js';
import { integerAtLeast, integerList, numberAbove } from './parse.js';

type LatencyFlags = EngineFlags & OutputFlags & { inputLen: number; outputLen: number; concurrency: number[]; iterations: number; warmup: number; bandwidthGbs?: number };

export function registerLatency(program: Command, io: CliIO): void {
  const command = program
    .command('latency')
    .description('one request (or a few at once) repeated: time to first token, decode tokens/s, achieved GB/s against the bandwidth ceiling');
  addEngineOptions(command)
    .option('--input-len <n>', 'prompt tokens', integerAtLeast(1), 128)
    .option('--output-len <n>', 'generated tokens', integerAtLeast(2), 256)
    .option('--concurrency <list>', 'requests run together, e.g. 1 or 1,4,16 (one result each)', integerList, [1])
    .option('--iterations <n>', 'measured repetitions', integerAtLeast(1), 3)
    .option('--warmup <n>', 'repetitions before measuring', integerAtLeast(0), 1)
    .option('--bandwidth-gbs <n>', 'the memory bandwidth ceiling in GB/s (default: the datasheet figure of a known GPU)', numberAbove(0));
  addOutputOptions(command).action(async (flags: LatencyFlags) => {
    const reports = await runLatency(
      { ...engineOptions(flags), inputLen: flags.inputLen, outputLen: flags.outputLen, concurrency: flags.concurrency, iterations: flags.iterations, warmup: flags.warmup, bandwidthGBs: flags.bandwidthGbs },
      (line) => io.stderr(`${line}\n`),
    );
    const name = `latency-${flags.inputLen}x${flags.outputLen}-c${flags.concurrency.join('_')}`;
    await finish(io, { kind: 'latency', runs: reports }, name, flags, [latencyTable(reports)]);
  });
}
