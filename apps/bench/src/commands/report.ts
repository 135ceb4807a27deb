import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { renderReport } from '../report/write.js';

export function registerReport(program: Command, io: CliIO): void {
  program
    .command('report')
    .description('redraw DIR/report.md and its charts from the result files in DIR (e.g. results copied from a GPU machine, or merged from several runs)')
    .argument('<dir>', 'a folder of ignis-bench result files (--output of the other commands)')
    .action(async (dir: string) => {
      io.stderr(`wrote ${(await renderReport(dir)).join(', ')}\n`);
    });
}
