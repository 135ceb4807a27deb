import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerCompare } from './commands/compare.js';
import { registerDataset } from './commands/dataset.js';
import { registerKernels } from './commands/kernels.js';
import { registerLatency } from './commands/latency.js';
import { registerPerplexity } from './commands/perplexity.js';
import { registerReport } from './commands/report.js';
import { registerServe } from './commands/serve.js';
import { registerThroughput } from './commands/throughput.js';
import type { CliIO } from './io.js';
import { packageDir } from './paths.js';

/** The `ignis-bench` command line. */
export function buildProgram(io: CliIO): Command {
  const { version } = JSON.parse(readFileSync(`${packageDir()}/package.json`, 'utf8')) as { version: string };
  const program = new Command('ignis-bench')
    .description('Ignis benchmarks: offline throughput, latency, serving load, kernels, peers side by side; reports with charts (--output DIR)')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const register of [registerDataset, registerThroughput, registerLatency, registerServe, registerKernels, registerCompare, registerPerplexity, registerReport]) register(program, io);
  // Subcommands inherit exitOverride and output only when set before they are added, so set them again.
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2; // usage errors: commander printed them
    io.stderr(`ignis-bench: error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
