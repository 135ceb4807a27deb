import type { FinishReason, Request, TokenLogprob } from './request.js';
import { StopStrings } from './stop-strings.js';
import { IncrementalDetokenizer, type Tokenizer } from './tokenizer/index.js';

/** What a stream yields: a completion's new tokens and the text they complete. */
export interface CompletionDelta {
  /** Which of the prompt's n completions. */
  readonly index: number;
  readonly tokenIds: readonly number[];
  readonly logprobs: readonly number[];
  /** Per token, its most likely alternatives, most likely first (only when `topLogprobs` > 0). */
  readonly topLogprobs?: readonly (readonly TokenLogprob[])[];
  /** New text (text that may still become part of a stop string is held back until decided). */
  readonly text: string;
  /** Set on the completion's last delta. */
  readonly finishReason?: FinishReason;
}

/** A finished completion. */
export interface CompletionOutput {
  readonly index: number;
  /** Generated tokens (a final end-of-sequence token included). */
  readonly tokenIds: readonly number[];
  /** The sampled tokens' log-probabilities. */
  readonly logprobs: readonly number[];
  /** Per token, its most likely alternatives, most likely first (only when `topLogprobs` > 0). */
  readonly topLogprobs?: readonly (readonly TokenLogprob[])[];
  /** Generated text, special tokens skipped, stop string excluded; empty without a tokenizer. */
  readonly text: string;
  readonly finishReason: FinishReason;
}

/**
 * Turns one request's tokens into text as they come: incremental detokenization, stop strings
 * (the earliest one ends the text; text that could still begin one is held back), and deltas to
 * `emit`. One per request.
 */
export class CompletionText {
  private readonly detokenizer: IncrementalDetokenizer | undefined;
  private readonly stops: StopStrings;
  private text = '';
  private shown = 0;
  private tokensShown = 0;
  /** The last delta went out: later calls do nothing (an abort can follow its request's last step). */
  private closed = false;

  constructor(
    private readonly request: Request,
    tokenizer: Tokenizer | undefined,
    private readonly emit: (delta: CompletionDelta) => void,
  ) {
    this.detokenizer = tokenizer && new IncrementalDetokenizer(tokenizer, request.promptIds, { skipSpecialTokens: true });
    this.stops = new StopStrings(request.params.stop);
  }

  /**
   * Takes the request's tokens appended since the last call. If a stop string appears, sets the
   * request's finish reason to 'stop'. On a finished request, flushes and emits the last delta.
   */
  async advance(): Promise<void> {
    if (this.closed) return;
    const request = this.request;
    const fresh = request.tokenIds.slice(request.promptIds.length + this.tokensShown); // not outputIds: no copy of the whole output each step
    const previous = this.text.length;
    if (this.detokenizer && fresh.length > 0) this.text += await this.detokenizer.push(fresh);
    if (request.isFinished && this.detokenizer) this.text += await this.detokenizer.flush();
    const scan = this.stops.scan(this.text, previous);
    if (scan.stopAt !== undefined) {
      this.text = this.text.slice(0, scan.stopAt);
      if (request.finishReason !== 'abort') request.finishReason = 'stop';
    }
    const until = request.isFinished ? this.text.length : scan.safeLength;
    const logprobs = request.logprobs.slice(this.tokensShown);
    const top = request.params.topLogprobs > 0 ? { topLogprobs: request.topLogprobs.slice(this.tokensShown) } : {};
    this.tokensShown += fresh.length;
    const delta = { index: request.index, tokenIds: fresh, logprobs, ...top, text: this.text.slice(this.shown, until) };
    this.shown = Math.max(this.shown, until);
    if (request.isFinished) {
      this.closed = true;
      this.emit({ ...delta, finishReason: request.finishReason });
    }
    else if (fresh.length > 0) this.emit(delta);
  }

  /** The completion as it ended. */
  output(): CompletionOutput {
    const r = this.request;
    const top = r.params.topLogprobs > 0 ? { topLogprobs: [...r.topLogprobs] } : {};
    return { index: r.index, tokenIds: r.outputIds, logprobs: [...r.logprobs], ...top, text: this.text, finishReason: r.finishReason! };
  }
}
