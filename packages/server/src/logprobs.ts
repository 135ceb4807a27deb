import type { TokenLogprob, Tokenizer } from '@ignis/engine';

/** `/v1/completions`' logprobs of a choice (or of one chunk of it). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per position: the most likely tokens and their log-probabilities, then the sampled one if it is not among them (as vLLM does). */
  top_logprobs: Record<string, number>[];
  /** Where each token starts in the choice's text (the echoed prompt included). */
  text_offset: number[];
}

/** One token and its log-probability in `/v1/chat/completions`' logprobs. */
export interface ChatLogprob {
  token: string;
  logprob: number;
  /** The UTF-8 bytes of `token`. */
  bytes: number[];
}

/** One generated token's entry in `/v1/chat/completions`' logprobs, with the most likely tokens at its position. */
export interface ChatTokenLogprob extends ChatLogprob {
  top_logprobs: ChatLogprob[];
}

/** Per generated token, the most likely tokens at its position (absent when none were asked for). */
export type TopLogprobs = readonly (readonly TokenLogprob[])[] | undefined;

/**
 * Each token's own text, as logprobs show it: the token decoded alone, special tokens kept
 * (vLLM's choice). A model without a tokenizer shows `token_id:N`, vLLM's spelling for ids.
 * Cached per id: the vocabulary bounds the cache, and hot tokens repeat.
 */
export class TokenTexts {
  private readonly cache = new Map<number, string>();

  constructor(private readonly tokenizer: Tokenizer | undefined) {}

  async of(ids: readonly number[]): Promise<string[]> {
    return Promise.all(ids.map((id) => this.one(id)));
  }

  /** The texts of each position's alternatives. */
  async ofTop(top: TopLogprobs, positions: number): Promise<string[][]> {
    return Promise.all(Array.from({ length: positions }, (_, i) => this.of((top?.[i] ?? []).map((t) => t.tokenId))));
  }

  private async one(id: number): Promise<string> {
    let text = this.cache.get(id);
    if (text === undefined) {
      text = this.tokenizer ? await this.tokenizer.decode([id], { skipSpecialTokens: false }) : `token_id:${id}`;
      this.cache.set(id, text);
    }
    return text;
  }
}

/** Builds one completions choice's logprobs chunk by chunk: text offsets go on where the last chunk ended. */
export class CompletionLogprobsWriter {
  constructor(
    private readonly texts: TokenTexts,
    /** Offset of the first generated token: the echoed prompt's length, or 0. */
    private offset: number,
  ) {}

  async next(tokenIds: readonly number[], logprobs: readonly number[], top: TopLogprobs): Promise<CompletionLogprobs> {
    const tokens = await this.texts.of(tokenIds);
    const alternatives = await this.texts.ofTop(top, tokens.length);
    const text_offset = tokens.map((token) => {
      const at = this.offset;
      this.offset += token.length;
      return at;
    });
    const top_logprobs = tokens.map((token, i) => {
      const entry: Record<string, number> = {};
      for (const [k, alternative] of (top?.[i] ?? []).entries()) entry[alternatives[i]![k]!] ??= alternative.logprob;
      entry[token] ??= logprobs[i]!;
      return entry;
    });
    return { tokens, token_logprobs: [...logprobs], top_logprobs, text_offset };
  }
}

/** `/v1/chat/completions`' logprobs content for some generated tokens. */
export async function chatLogprobsContent(texts: TokenTexts, tokenIds: readonly number[], logprobs: readonly number[], top: TopLogprobs): Promise<ChatTokenLogprob[]> {
  const tokens = await texts.of(tokenIds);
  const alternatives = await texts.ofTop(top, tokens.length);
  const encoder = new TextEncoder();
  const entry = (token: string, logprob: number): ChatLogprob => ({ token, logprob, bytes: [...encoder.encode(token)] });
  return tokens.map((token, i) => ({
    ...entry(token, logprobs[i]!),
    top_logprobs: (top?.[i] ?? []).map((alternative, k) => entry(alternatives[i]![k]!, alternative.logprob)),
  }));
}
