import { readFileSync } from 'node:fs';
import { KV_CACHE_DTYPES, QUANTIZATION_METHODS } from '@ignis/engine';
import { DEFAULT_REQUEST_LIMITS } from '@ignis/server';
import { Command, CommanderError, Option } from 'commander';
import { type GenerateOptions, runGenerate } from './commands/generate.js';
import { type ServeOptions, runServe } from './commands/serve.js';
import type { CliIO } from './io.js';
import { collect, integerAtLeast, numberBetween, tokenIds } from './parse.js';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** --quantization: the linear weights' format. */
function quantizationOption(): Option {
  return new Option('--quantization <method>', 'linear weights: as the checkpoint says (auto), FP8 W8A8 (fp8: also quantizes float checkpoints at load), or unquantized (none)')
    .choices([...QUANTIZATION_METHODS])
    .default('auto');
}

/** --kv-cache-dtype: what the KV cache stores. */
function kvCacheDtypeOption(): Option {
  return new Option('--kv-cache-dtype <dtype>', 'KV cache elements: the activation dtype (auto), or FP8 e4m3 (fp8: twice the tokens; per-layer scales from the checkpoint, else 1.0)')
    .choices([...KV_CACHE_DTYPES])
    .default('auto');
}

const CHECK_WEIGHTS_HELP = 'read every weight once more before loading, to check it for NaN and infinity (a sample of each tensor is always checked)';

/** The `ignis` command line. */
export function buildProgram(io: CliIO): Command {
  const program = new Command('ignis')
    .description('Ignis: LLM inference for Node.js, on NVIDIA GPUs or the CPU')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  program
    .command('generate')
    .description('generate a continuation of one prompt')
    .option('--model <dir>', 'Hugging Face model directory (default: the bundled model)')
    .option('--prompt <text>', 'prompt text (tokenized with the model tokenizer)')
    .option('--prompt-ids <ids>', 'prompt as comma-separated token ids, e.g. 1,2,3', tokenIds)
    .option('--max-tokens <n>', 'most tokens to generate', integerAtLeast(1), 64)
    .option('--temperature <t>', '0 is greedy', numberBetween(0, 100), 1)
    .option('--top-p <p>', 'nucleus sampling probability mass', numberBetween(Number.MIN_VALUE, 1), 1)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: all)', integerAtLeast(0), 0)
    .option('--seed <s>', 'random seed, for reproducible sampling', integerAtLeast(0))
    .option('--stop <text>', 'stop when this text appears (repeatable)', collect)
    .option('--ignore-eos', 'keep generating past end-of-sequence tokens', false)
    .addOption(new Option('--device <device>', 'where to run (auto: the GPU when there is one)').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'activation precision (auto: bfloat16 on the GPU, float32 on the CPU)').choices(['auto', 'float32', 'bfloat16']).default('auto'))
    .addOption(quantizationOption())
    .addOption(kvCacheDtypeOption())
    .option('--max-model-len <n>', 'longest prompt + output', integerAtLeast(2))
    .option('--check-weights', CHECK_WEIGHTS_HELP, false)
    .option('--json', 'print one JSON object (token_ids, text, ...) as the last line of stdout', false)
    .action((options: GenerateOptions) => runGenerate(options, io));

  program
    .command('serve')
    .description('serve the OpenAI API (completions, chat, models, tokenize, metrics) until SIGTERM or SIGINT')
    .option('--model <dir>', 'Hugging Face model directory, or synthetic:NAME (random weights; token-id prompts only) (default: the bundled model)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free one)', integerAtLeast(0), 8000)
    .option('--served-model-name <name>', "the model name requests and metrics use (default: the model directory's base name)")
    .option('--max-num-seqs <n>', 'most sequences in one step', integerAtLeast(1))
    .option('--max-num-batched-tokens <n>', 'most tokens computed in one step', integerAtLeast(1))
    .option('--max-model-len <n>', 'longest prompt + output', integerAtLeast(2))
    .option('--gpu-memory-utilization <f>', 'fraction of free GPU memory to use', numberBetween(Number.MIN_VALUE, 1))
    .option('--check-weights', CHECK_WEIGHTS_HELP, false)
    .addOption(new Option('--device <device>', 'where to run (auto: the GPU when there is one)').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'activation precision (auto: bfloat16 on the GPU, float32 on the CPU)').choices(['auto', 'float32', 'bfloat16']).default('auto'))
    .addOption(quantizationOption())
    .addOption(kvCacheDtypeOption())
    .addOption(new Option('--api-key <key>', 'require Authorization: Bearer <key> on the API').env('IGNIS_API_KEY'))
    .option('--max-waiting-requests <n>', 'most sequences (prompts x n) waiting for the engine; more get 429, a request of more alone 400 (default: no bound)', integerAtLeast(1))
    .option('--shutdown-grace <s>', 'on SIGTERM, seconds running requests have to finish (a second signal is ignored, a third exits at once)', numberBetween(0, 3600), 30)
    .option('--max-body-bytes <n>', 'largest request body; larger gets 413', integerAtLeast(1), DEFAULT_REQUEST_LIMITS.maxBodyBytes)
    .option('--max-prompt-chars <n>', 'most characters in a text prompt or rendered chat (default: what the context can hold, max-model-len x the longest token)', integerAtLeast(1))
    .option('--max-chat-messages <n>', 'most messages in one chat', integerAtLeast(1), DEFAULT_REQUEST_LIMITS.maxChatMessages)
    .option('--max-sequences-per-request <n>', 'most sequences (prompts x n) one request may start', integerAtLeast(1), DEFAULT_REQUEST_LIMITS.maxSequencesPerRequest)
    .option('--max-stop-strings <n>', 'most stop strings in one request', integerAtLeast(1), DEFAULT_REQUEST_LIMITS.maxStopStrings)
    .option('--max-stop-string-chars <n>', 'most characters in one stop string', integerAtLeast(1), DEFAULT_REQUEST_LIMITS.maxStopStringChars)
    .action((options: ServeOptions) => runServe(options, io));
  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2; // usage errors: commander printed them
    io.stderr(`ignis: error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
