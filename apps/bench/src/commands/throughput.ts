import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { modelSpec } from '../model-spec.js';
import { throughputTable } from '../report/tables.js';
import { runThroughput } from '../throughput.js';
import { type EngineFlags, type OutputFlags, type WorkloadFlags, addEngineOptions, addOutputOptions, addWorkloadOptions, engineOptions, finish, workload } from './common.js';
import { integerAtLeast } from './parse.js';

type ThroughputFlags = EngineFlags & WorkloadFlags & OutputFlags & { sharedPrefix: number };

export function registerThroughput(program: Command, io: CliIO): void {
  const command = program
    .command('throughput')
    .description('offline throughput: every request queued at once; requests/s, tokens/s, TTFT/TPOT/E2E percentiles, KV usage, prefix hits, memory');
  addEngineOptions(command);
  addWorkloadOptions(command, { numRequests: 1000, inputLen: 128, outputLen: 128 });
  command.option('--shared-prefix <n>', 'random prompts share their first N tokens (prefix caching at work)', integerAtLeast(0), 0);
  addOutputOptions(command).action(async (flags: ThroughputFlags) => {
    if (flags.sharedPrefix >= flags.inputLen) throw new Error('--shared-prefix must be shorter than --input-len');
    const spec = await modelSpec(flags.model);
    const { requests, description, slug } = await workload(flags, spec.vocabSize, flags.sharedPrefix);
    io.stderr(`throughput: ${flags.model}, ${requests.length} requests (${description})\n`);
    const report = await runThroughput({ ...engineOptions(flags), requests, workload: description }, io.progress('requests'));
    await finish(io, { kind: 'throughput', runs: [report] }, `throughput-${slug}`, flags, [throughputTable([report])], [
      `time in the runner ${(100 * report.runShare).toFixed(1)}%, engine host work ${(100 * report.hostShare).toFixed(1)}%; ${report.steps} steps`,
    ]);
  });
}
