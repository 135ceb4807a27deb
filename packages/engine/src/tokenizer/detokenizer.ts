import { TokenizerError } from './errors.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * Prompt tokens kept as decoding context. SentencePiece-style decoders strip the leading space of
 * the first token they see, so the first generated token must not be decoded on its own.
 */
const PROMPT_CONTEXT_TOKENS = 5;

/** What a decoder writes for bytes that are not (yet) a whole UTF-8 character. */
const REPLACEMENT_CHARACTER = '\uFFFD';

export interface IncrementalDetokenizerOptions {
  /** Default true, as in {@link Tokenizer.decode}. */
  skipSpecialTokens?: boolean;
}

/**
 * Turns generated token ids into text as they arrive, without emitting a character that later
 * tokens would still change (half of a multi-byte character, a space a decoder strips at the start).
 *
 * The vLLM/TGI scheme: `tokens[prefixOffset, readOffset)` is already-emitted context and
 * `tokens[readOffset, end)` is pending. Text is emitted only when decoding the context plus the
 * pending tokens yields more than the context alone and does not end in U+FFFD. All push() results
 * plus flush() equal decode(prompt + generated) minus decode(prompt).
 */
export class IncrementalDetokenizer {
  private tokens: number[];
  private prefixOffset = 0;
  private readOffset: number;
  private emitted = '';
  private flushed = false;
  /** push() and flush() run one after another even when a caller does not await each one. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: Pick<Tokenizer, 'decode'>,
    promptIds: readonly number[],
    options: IncrementalDetokenizerOptions = {},
  ) {
    this.tokens = promptIds.slice(Math.max(0, promptIds.length - PROMPT_CONTEXT_TOKENS));
    this.readOffset = this.tokens.length;
    this.skipSpecialTokens = options.skipSpecialTokens ?? true;
  }

  /** Everything emitted so far by push() and flush(). */
  get text(): string {
    return this.emitted;
  }

  /** Adds generated ids; resolves to the text they complete, possibly ''. */
  push(ids: readonly number[]): Promise<string> {
    const copy = [...ids];
    return this.enqueue(() => this.pushNow(copy));
  }

  /** Ends the stream: resolves to the text still held back, even if it ends in a partial character. */
  flush(): Promise<string> {
    return this.enqueue(() => this.flushNow());
  }

  private enqueue(step: () => Promise<string>): Promise<string> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async pushNow(ids: number[]): Promise<string> {
    if (this.flushed) throw new TokenizerError('IncrementalDetokenizer.push() after flush()');
    for (const id of ids) this.tokens.push(id);
    if (ids.length === 0) return '';
    const { prefixText, fullText } = await this.decodeWindow();
    if (fullText.length <= prefixText.length || fullText.endsWith(REPLACEMENT_CHARACTER)) return '';
    return this.emit(fullText.slice(prefixText.length));
  }

  private async flushNow(): Promise<string> {
    if (this.flushed) return '';
    this.flushed = true;
    if (this.readOffset === this.tokens.length) return '';
    const { prefixText, fullText } = await this.decodeWindow();
    return this.emit(fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '');
  }

  private async decodeWindow(): Promise<{ prefixText: string; fullText: string }> {
    const options = { skipSpecialTokens: this.skipSpecialTokens };
    const [prefixText, fullText] = await Promise.all([
      this.tokenizer.decode(this.tokens.slice(this.prefixOffset, this.readOffset), options),
      this.tokenizer.decode(this.tokens.slice(this.prefixOffset), options),
    ]);
    return { prefixText, fullText };
  }

  /** Records `chunk` as emitted and makes the pending tokens the new context. */
  private emit(chunk: string): string {
    // Tokens before the context are never decoded again; dropping them keeps memory bounded.
    this.tokens = this.tokens.slice(this.readOffset);
    this.prefixOffset = 0;
    this.readOffset = this.tokens.length;
    this.emitted += chunk;
    return chunk;
  }
}
