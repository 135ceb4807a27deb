import type { Tokenizer } from '@ignis/engine';

/** `/v1/completions`' logprobs of a choice (or of one chunk of it). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per position: the most likely tokens and their log-probabilities, the sampled one included (as vLLM does). */
  top_logprobs: Record<string, number>[];
  /** Where each token starts in the choice's text (the echoed prompt included). */
  text_offset: number[];
}

/** One token's entry in `/v1/chat/completions`' logprobs. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  /** The UTF-8 bytes of `token`. */
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

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

  async next(tokenIds: readonly number[], logprobs: readonly number[]): Promise<CompletionLogprobs> {
    const tokens = await this.texts.of(tokenIds);
    const text_offset = tokens.map((token) => {
      const at = this.offset;
      this.offset += token.length;
      return at;
    });
    return { tokens, token_logprobs: [...logprobs], top_logprobs: tokens.map((t, i) => ({ [t]: logprobs[i]! })), text_offset };
  }
}

/** `/v1/chat/completions`' logprobs content for some generated tokens. */
export async function chatLogprobsContent(texts: TokenTexts, tokenIds: readonly number[], logprobs: readonly number[]): Promise<ChatTokenLogprob[]> {
  const tokens = await texts.of(tokenIds);
  const encoder = new TextEncoder();
  return tokens.map((token, i) => ({ token, logprob: logprobs[i]!, bytes: [...encoder.encode(token)], top_logprobs: [] }));
}
