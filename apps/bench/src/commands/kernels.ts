import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { runKernels } from '../kernels/run.js';
import { modelSpec } from '../model-spec.js';
import { kernelsTable } from '../report/tables.js';
import { type OutputFlags, addOutputOptions, finish } from './common.js';
import { integerAtLeast, integerList, numberAbove } from './parse.js';

type KernelsFlags = OutputFlags & {
  model: string;
  dtype: 'bf16' | 'f32';
  decodeBatches: number[];
  prefillTokens: number;
  context: number;
  iterations: number;
  bandwidthGbs?: number;
  tflops?: number;
};

export function registerKernels(program: Command, io: CliIO): void {
  const command = program
    .command('kernels')
    .description("time the GEMMs of a model's linear layers and its decode attention at the model's shapes, as a fraction of the GPU's ceiling (skipped without a GPU)")
    .option('--model <dir>', 'model directory or synthetic:NAME (only its shape is used)', 'synthetic:llama-3.1-8b')
    .option('--dtype <dtype>', 'bf16 or f32', 'bf16')
    .option('--decode-batches <list>', 'decode batch sizes: GEMM rows and attention sequences', integerList, [1, 64])
    .option('--prefill-tokens <n>', 'GEMM rows of a prefill step', integerAtLeast(1), 8192)
    .option('--context <n>', 'tokens each sequence of the decode attention attends to', integerAtLeast(1), 4096)
    .option('--iterations <n>', 'timed runs per kernel (the median is kept)', integerAtLeast(1), 50)
    .option('--bandwidth-gbs <n>', 'memory ceiling in GB/s (default: measured on our GPUs, ../shared/GPU.md)', numberAbove(0))
    .option('--tflops <n>', 'compute ceiling in TFLOP/s', numberAbove(0));
  addOutputOptions(command).action(async (flags: KernelsFlags) => {
    if (flags.dtype !== 'bf16' && flags.dtype !== 'f32') throw new Error(`--dtype must be bf16 or f32, got ${flags.dtype}`);
    const spec = await modelSpec(flags.model);
    const report = await runKernels(
      spec,
      { ...flags, decodeBatches: flags.decodeBatches, bandwidthGBs: flags.bandwidthGbs, tflops: flags.tflops },
      io.progress('kernels'),
    );
    if (report.skipped) {
      io.stderr(`kernels: skipped: ${report.skipped}\n`);
    }
    const notes = report.failures.map((f) => `FAILED ${f.name}: ${f.error}`);
    const tables = report.skipped ? [] : [kernelsTable(report)];
    await finish(io, { kind: 'kernels', runs: [report] }, `kernels-${flags.model.replace(/^synthetic:/, '')}-${flags.dtype}`, flags, tables, notes);
    if (report.failures.length > 0) throw new Error(`${report.failures.length} kernel benchmarks failed`);
  });
}
