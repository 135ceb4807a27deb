import { seededRandom } from '@ignis/tensor';
import type { DatasetRequest } from './format.js';
import { type TextCodec, shuffled } from './synthetic.js';

/** How ShareGPT conversations become requests (vLLM's rules by default). */
export interface ShareGptOptions {
  readonly numRequests?: number;
  readonly seed: number;
  /** Generate this many tokens instead of the length of the conversation's answer. */
  readonly outputLen?: number;
  /** Conversations with a longer prompt, or prompt + answer, are skipped (vLLM: 1024 and 2048). */
  readonly maxInputLen: number;
  readonly maxTotalLen: number;
}

interface Turn {
  from?: string;
  value?: string;
}

/**
 * A ShareGPT-style JSON file (`[{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}]}]`)
 * as requests: each conversation's first human turn is the prompt, and the answer after it sets
 * the output length. Prompts or answers under 4 tokens are skipped, as vLLM does; the rest are
 * shuffled (seeded) and the first `numRequests` kept.
 */
export async function shareGptRequests(json: unknown, codec: TextCodec, options: ShareGptOptions): Promise<DatasetRequest[]> {
  if (!Array.isArray(json)) throw new Error('a ShareGPT file is a JSON array of {"conversations": [...]} objects');
  const conversations = shuffled(json as { conversations?: Turn[] }[], seededRandom(options.seed));
  const requests: DatasetRequest[] = [];
  for (const conversation of conversations) {
    if (options.numRequests !== undefined && requests.length >= options.numRequests) break;
    const turns = conversation?.conversations ?? [];
    const at = turns.findIndex((t) => t.from === 'human' && typeof t.value === 'string');
    const answer = turns[at + 1];
    if (at < 0 || typeof answer?.value !== 'string') continue;
    const prompt = turns[at]!.value!;
    const inputLen = (await codec.encode(prompt)).length;
    const outputLen = options.outputLen ?? (await codec.encode(answer.value)).length;
    if (inputLen < 4 || outputLen < 4 || inputLen > options.maxInputLen || inputLen + outputLen > options.maxTotalLen) continue;
    requests.push({ id: requests.length, prompt, inputLen, outputLen });
  }
  if (requests.length === 0) throw new Error('no conversation in the file passed the filters');
  return requests;
}
