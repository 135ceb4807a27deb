import { seededRandom } from '@ignis/tensor';
import type { DatasetRequest } from './format.js';
import { type LengthDistribution, drawLength } from './lengths.js';

/** Text to token ids and back: what text prompts need (an @ignis/engine Tokenizer fits). */
export interface TextCodec {
  encode(text: string): Promise<number[]>;
  decode(ids: readonly number[]): Promise<string>;
}

/** What `dataset synthetic` makes. */
export interface SyntheticOptions {
  readonly numRequests: number;
  readonly input: LengthDistribution;
  readonly output: LengthDistribution;
  /** Token ids are drawn from [1, vocabSize). */
  readonly vocabSize: number;
  readonly seed: number;
  /**
   * Prefix caching workloads: `groups` random prefixes of `length` tokens, each request starting
   * with one of them (requests spread evenly over the groups, in shuffled order); the drawn input
   * length is the suffix's, after the prefix.
   */
  readonly prefix?: { readonly groups: number; readonly length: number };
  /** Text prompts: random ids decoded to text (their length re-counted by encoding it). */
  readonly text?: TextCodec;
}

/** Random requests as trtllm-bench's and vLLM's random datasets make them, seeded: the same options give the same requests. */
export async function syntheticRequests(options: SyntheticOptions): Promise<DatasetRequest[]> {
  const random = seededRandom(options.seed);
  const tokens = (n: number): number[] => Array.from({ length: n }, () => 1 + Math.floor(random() * (options.vocabSize - 1)));
  const prefixes = options.prefix ? Array.from({ length: options.prefix.groups }, () => tokens(options.prefix!.length)) : [];
  const groupOf = shuffled(Array.from({ length: options.numRequests }, (_, i) => i % Math.max(1, prefixes.length)), random);
  const requests: DatasetRequest[] = [];
  for (let id = 0; id < options.numRequests; id++) {
    const ids = [...(prefixes[groupOf[id]!] ?? []), ...tokens(drawLength(options.input, random))];
    const outputLen = drawLength(options.output, random);
    if (!options.text) {
      requests.push({ id, prompt: ids, inputLen: ids.length, outputLen });
      continue;
    }
    let prompt = await options.text.decode(ids);
    let encoded = await options.text.encode(prompt);
    // Random ids decoded to text rarely encode back to as many tokens: cut once to the length asked for, and record what it encodes to.
    if (encoded.length > ids.length) {
      prompt = await options.text.decode(encoded.slice(0, ids.length));
      encoded = await options.text.encode(prompt);
    }
    requests.push({ id, prompt, inputLen: encoded.length, outputLen });
  }
  return requests;
}

/** Fisher-Yates with the given random source. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
