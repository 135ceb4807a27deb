import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadTokenizer } from '@ignis/engine';
import { type DatasetRequest, toJsonl, writeDataset } from '../dataset/format.js';
import { describeLength } from '../dataset/lengths.js';
import { shareGptRequests } from '../dataset/sharegpt.js';
import { type TextCodec, syntheticRequests } from '../dataset/synthetic.js';
import type { CliIO } from '../io.js';
import { modelSpec } from '../model-spec.js';
import { integerAtLeast, lengthFrom, numberAbove, range } from './parse.js';

interface DatasetFlags {
  model?: string;
  vocabSize?: number;
  numRequests?: number;
  inputLen: number;
  inputStd?: number;
  inputRange?: [number, number];
  outputLen: number;
  outputStd?: number;
  outputRange?: [number, number];
  prefixGroups?: number;
  prefixLen?: number;
  tokens: 'ids' | 'text';
  sharegpt?: string;
  maxInputLen: number;
  maxTotalLen: number;
  seed: number;
  out?: string;
  /** --output-len was given (ShareGPT then fixes output lengths instead of taking the answers'). */
  outputLenGiven: boolean;
}

/** Encodes with the model's special tokens (as the engine and servers count a prompt) and decodes without them. */
async function codecOf(model: string | undefined, why: string): Promise<TextCodec> {
  const tokenizer = model ? await loadTokenizer(model) : undefined;
  if (!tokenizer) throw new Error(`${why} needs a tokenizer: pass --model DIR with a tokenizer.json`);
  return { encode: (text) => tokenizer.encode(text), decode: (ids) => tokenizer.decode(ids) };
}

async function makeDataset(flags: DatasetFlags): Promise<{ requests: DatasetRequest[]; description: string }> {
  if (flags.sharegpt) {
    const codec = await codecOf(flags.model, 'converting ShareGPT');
    const json: unknown = JSON.parse(await readFile(flags.sharegpt, 'utf8'));
    const outputLen = flags.outputLenGiven ? flags.outputLen : undefined;
    const requests = await shareGptRequests(json, codec, { numRequests: flags.numRequests, seed: flags.seed, outputLen, maxInputLen: flags.maxInputLen, maxTotalLen: flags.maxTotalLen });
    return { requests, description: `ShareGPT ${flags.sharegpt}` };
  }
  const vocabSize = flags.vocabSize ?? (flags.model ? (await modelSpec(flags.model)).vocabSize : undefined);
  if (!vocabSize) throw new Error('random prompts need a vocabulary: pass --model DIR|synthetic:NAME or --vocab-size N');
  if ((flags.prefixGroups === undefined) !== (flags.prefixLen === undefined)) throw new Error('--prefix-groups and --prefix-len go together');
  const input = lengthFrom(flags.inputLen, flags.inputStd, flags.inputRange, 'input');
  const output = lengthFrom(flags.outputLen, flags.outputStd, flags.outputRange, 'output');
  const requests = await syntheticRequests({
    numRequests: flags.numRequests ?? 1000,
    input,
    output,
    vocabSize,
    seed: flags.seed,
    prefix: flags.prefixGroups ? { groups: flags.prefixGroups, length: flags.prefixLen! } : undefined,
    text: flags.tokens === 'text' ? await codecOf(flags.model, '--tokens text') : undefined,
  });
  const prefix = flags.prefixGroups ? `, ${flags.prefixGroups} shared prefixes of ${flags.prefixLen}` : '';
  return { requests, description: `random ${flags.tokens}, input ${describeLength(input)}${prefix}, output ${describeLength(output)}` };
}

export function registerDataset(program: Command, io: CliIO): void {
  program
    .command('dataset')
    .description('write benchmark requests as JSONL (trtllm-bench format): random, with length distributions and shared prefixes, or from a ShareGPT file; seeded')
    .option('--model <dir>', 'model directory (vocabulary and tokenizer) or synthetic:NAME (vocabulary only)')
    .option('--vocab-size <n>', 'draw token ids from [1, N) (instead of the model\'s vocabulary)', integerAtLeast(2))
    .option('--num-requests <n>', 'requests (default 1000; ShareGPT: every conversation that passes)', integerAtLeast(1))
    .option('--input-len <n>', 'prompt tokens (the mean with --input-std)', integerAtLeast(1), 128)
    .option('--input-std <n>', 'normal prompt lengths with this standard deviation', numberAbove(0))
    .option('--input-range <min:max>', 'uniform prompt lengths', range)
    .option('--output-len <n>', 'output tokens (the mean with --output-std; ShareGPT: fixes them instead of the answer\'s length)', integerAtLeast(1), 128)
    .option('--output-std <n>', 'normal output lengths with this standard deviation', numberAbove(0))
    .option('--output-range <min:max>', 'uniform output lengths', range)
    .option('--prefix-groups <n>', 'shared-prefix mode: N random prefixes, each request starting with one', integerAtLeast(1))
    .option('--prefix-len <n>', 'tokens of each shared prefix (the input length is then the suffix\'s)', integerAtLeast(1))
    .option('--tokens <kind>', 'ids: token ids; text: random ids decoded by the model\'s tokenizer', 'ids')
    .option('--sharegpt <file>', 'convert a ShareGPT-style JSON file (first human turn -> prompt, its answer -> output length)')
    .option('--max-input-len <n>', 'ShareGPT: skip longer prompts', integerAtLeast(1), 1024)
    .option('--max-total-len <n>', 'ShareGPT: skip longer prompt + answer', integerAtLeast(2), 2048)
    .option('--seed <n>', 'random seed', integerAtLeast(0), 0)
    .option('--out <file>', 'write here (default: stdout)')
    .action(async (options: Omit<DatasetFlags, 'outputLenGiven'>, command: Command) => {
      const flags = { ...options, outputLenGiven: command.getOptionValueSource('outputLen') === 'cli' };
      if (flags.tokens !== 'ids' && flags.tokens !== 'text') throw new Error(`--tokens must be ids or text, got ${flags.tokens}`);
      const { requests, description } = await makeDataset(flags);
      if (flags.out) await writeDataset(flags.out, requests);
      else io.stdout(toJsonl(requests));
      const inputs = requests.reduce((a, r) => a + r.inputLen, 0);
      const outputs = requests.reduce((a, r) => a + r.outputLen, 0);
      io.stderr(`${requests.length} requests (${description}): ${inputs} prompt tokens, ${outputs} output tokens${flags.out ? ` -> ${flags.out}` : ''}\n`);
    });
}
