import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import { type Device, KV_CACHE_DTYPES, type KvCacheDtype, type Precision, QUANTIZATION_METHODS, type QuantizationMethod } from '@ignis/engine';
import { type DatasetRequest, readDataset } from '../dataset/format.js';
import { syntheticRequests } from '../dataset/synthetic.js';
import type { CliIO } from '../io.js';
import { type Measured, result } from '../report/results.js';
import { type Table, textTable } from '../report/table.js';
import { publish } from '../report/write.js';
import type { EngineOptions } from '../throughput.js';
import { integerAtLeast, numberAbove } from './parse.js';

/** The engine flags every in-process benchmark takes. */
export function addEngineOptions(command: Command): Command {
  return command
    .requiredOption('--model <dir>', 'model directory, or synthetic:NAME (llama-3.1-8b, llama-3.2-1b, mistral-7b, qwen2.5-7b: random weights on the device)')
    .addOption(new Option('--device <device>', 'where to run').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'activation precision').choices(['auto', 'float32', 'bfloat16']).default('auto'))
    .addOption(new Option('--quantization <method>', 'linear weights: as the checkpoint says (auto), FP8 W8A8 (fp8: also quantizes float weights at load), or unquantized').choices([...QUANTIZATION_METHODS]).default('auto'))
    .addOption(new Option('--kv-cache-dtype <dtype>', 'KV cache elements: the activation dtype (auto) or FP8 e4m3 (half the bytes, scales from the checkpoint)').choices([...KV_CACHE_DTYPES]).default('auto'))
    .option('--max-num-seqs <n>', 'most sequences per step (engine default: 256 on the GPU, 16 on the CPU)', integerAtLeast(1))
    .option('--max-num-batched-tokens <n>', 'most tokens per step (engine default: 8192 / 256)', integerAtLeast(1))
    .option('--gpu-memory-utilization <f>', 'fraction of free GPU memory for weights, activations and KV cache (engine default 0.9)', numberAbove(0, 1))
    .option('--kv-cache-gib <gib>', 'KV cache size in GiB (instead of what the memory fraction leaves)', numberAbove(0))
    .option('--no-prefix-caching', 'compute every prompt in full');
}

/** What addEngineOptions parses to. */
export interface EngineFlags {
  model: string;
  device: Device;
  dtype: Precision;
  quantization: QuantizationMethod;
  kvCacheDtype: KvCacheDtype;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  gpuMemoryUtilization?: number;
  kvCacheGib?: number;
  prefixCaching: boolean;
}

export function engineOptions(flags: EngineFlags): EngineOptions {
  return {
    model: flags.model,
    device: flags.device,
    dtype: flags.dtype,
    quantization: flags.quantization,
    kvCacheDtype: flags.kvCacheDtype,
    maxNumSeqs: flags.maxNumSeqs,
    maxNumBatchedTokens: flags.maxNumBatchedTokens,
    gpuMemoryUtilization: flags.gpuMemoryUtilization,
    kvCacheBytes: flags.kvCacheGib === undefined ? undefined : Math.floor(flags.kvCacheGib * 2 ** 30),
    enablePrefixCaching: flags.prefixCaching,
  };
}

/** The workload flags: a dataset file, or random token ids of fixed lengths. */
export function addWorkloadOptions(command: Command, defaults: { numRequests: number; inputLen: number; outputLen: number }): Command {
  return command
    .option('--dataset <file>', 'requests as JSONL (see `dataset`); replaces the flags below')
    .option('--num-requests <n>', 'random requests', integerAtLeast(1), defaults.numRequests)
    .option('--input-len <n>', 'prompt tokens per request', integerAtLeast(1), defaults.inputLen)
    .option('--output-len <n>', 'generated tokens per request', integerAtLeast(1), defaults.outputLen)
    .option('--seed <n>', 'seed of the random prompts', integerAtLeast(0), 0);
}

export interface WorkloadFlags {
  dataset?: string;
  numRequests: number;
  inputLen: number;
  outputLen: number;
  seed: number;
}

/** The requests the flags ask for, a short description of them, and a slug for file names. */
export async function workload(flags: WorkloadFlags, vocabSize: number, sharedPrefix = 0): Promise<{ requests: DatasetRequest[]; description: string; slug: string }> {
  if (flags.dataset) return { requests: await readDataset(flags.dataset), description: basename(flags.dataset), slug: basename(flags.dataset).replace(/\.jsonl?$/, '') };
  const requests = await syntheticRequests({
    numRequests: flags.numRequests,
    input: { kind: 'fixed', value: flags.inputLen - sharedPrefix },
    output: { kind: 'fixed', value: flags.outputLen },
    vocabSize,
    seed: flags.seed,
    prefix: sharedPrefix > 0 ? { groups: 1, length: sharedPrefix } : undefined,
  });
  const description = `random ${flags.inputLen}/${flags.outputLen}${sharedPrefix > 0 ? `, ${sharedPrefix} shared` : ''}`;
  return { requests, description, slug: `${flags.inputLen}x${flags.outputLen}-n${flags.numRequests}` };
}

/** --json, --output DIR and --name. */
export function addOutputOptions(command: Command): Command {
  return command
    .option('--json', 'print the result as JSON on the last line of stdout', false)
    .option('--output <dir>', 'save the result as DIR/NAME.json and redraw DIR/report.md and its charts from every result there')
    .option('--name <name>', 'the result file name (default: from the command and its main options)');
}

export interface OutputFlags {
  json: boolean;
  output?: string;
  name?: string;
}

/** Prints the summary table (stderr), the JSON (stdout, with --json), and publishes to --output. */
export async function finish(io: CliIO, measured: Measured, defaultName: string, flags: OutputFlags, tables: readonly Table[], notes: readonly string[] = []): Promise<void> {
  for (const t of tables) io.stderr(`\n${textTable(t)}\n`);
  for (const note of notes) io.stderr(`${note}\n`);
  const r = result(measured, (flags.name ?? defaultName).replace(/[^\w.-]+/g, '_'), flags);
  if (flags.output) {
    const files = await publish(flags.output, r);
    io.stderr(`wrote ${files.join(', ')}\n`);
  }
  if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
}
