import { type Command, Option } from 'commander';
import { type Device, KV_CACHE_DTYPES, type KvCacheDtype, type Precision, QUANTIZATION_METHODS, type QuantizationMethod } from '@ignis/engine';
import type { CliIO } from '../io.js';
import { runPerplexity } from '../perplexity.js';
import { num } from '../report/table.js';
import { textTable } from '../report/table.js';
import { integerAtLeast } from './parse.js';

interface PerplexityFlags {
  model: string;
  device: Device;
  dtype: Precision;
  quantization: QuantizationMethod;
  kvCacheDtype: KvCacheDtype;
  documents: string;
  context: number;
  json: boolean;
}

export function registerPerplexity(program: Command, io: CliIO): void {
  program
    .command('perplexity')
    .description('perplexity of a model on documents (JSON lines of {"text": ...}): the accuracy cost of FP8 weights and an FP8 KV cache')
    .requiredOption('--model <dir>', 'model directory (with tokenizer.json)')
    .requiredOption('--documents <file>', 'JSON lines, one {"text": ...} document each')
    .option('--context <n>', 'tokens of context per scored window (use the model\'s training context)', integerAtLeast(2), 512)
    .addOption(new Option('--device <device>', 'where to run').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'activation precision').choices(['auto', 'float32', 'bfloat16']).default('auto'))
    .addOption(new Option('--quantization <method>', 'linear weights (see ignis serve --help)').choices([...QUANTIZATION_METHODS]).default('auto'))
    .addOption(new Option('--kv-cache-dtype <dtype>', 'KV cache elements').choices([...KV_CACHE_DTYPES]).default('auto'))
    .option('--json', 'print the result as JSON on the last line of stdout', false)
    .action(async (flags: PerplexityFlags) => {
      const r = await runPerplexity(flags, (line) => io.stderr(`\r${line}`));
      io.stderr(`\n\n${textTable({
        headers: ['model', 'precision', 'weights', 'documents', 'tokens', 'perplexity', 'bits/byte'],
        rows: [[r.model, `${r.device} ${r.dtype}, KV ${r.kvCacheDtype}`, r.weights, `${r.documents}`, `${r.scoredTokens}`, num(r.perplexity, 3), num(r.bitsPerByte, 4)]],
      })}\n`);
      if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
    });
}
