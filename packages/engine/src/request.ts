import type { SchedulerRequest } from '@ignis/scheduler';
import type { SamplingParams } from './sampling/params.js';

/** A token and its log-probability. */
export interface TokenLogprob {
  readonly tokenId: number;
  readonly logprob: number;
}

/** Why a completion ended: a stop token or string, a length limit, or the caller cancelled it. */
export type FinishReason = 'stop' | 'length' | 'abort';

/**
 * One completion being generated: the scheduler's unit of work. The scheduler closes the gap
 * between `numComputedTokens` and `tokenIds.length`; the step that reaches the end samples the
 * next token, which the engine appends.
 */
export class Request implements SchedulerRequest {
  readonly tokenIds: number[];
  numComputedTokens = 0;
  finishReason: FinishReason | undefined;
  /** The sampled tokens' log-probabilities, one per output token. */
  readonly logprobs: number[] = [];
  /** Per output token, the most likely tokens (when `params.topLogprobs` > 0). */
  readonly topLogprobs: (readonly TokenLogprob[])[] = [];
  /** When the scheduler first gave it a step, and when its first and latest tokens came (ms, performance.now). */
  firstScheduledAt: number | undefined;
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  /** Gaps between consecutive output tokens (ms). */
  readonly interTokenMs: number[] = [];

  constructor(
    readonly id: string,
    /** Which of the prompt's n completions this is. */
    readonly index: number,
    readonly promptIds: readonly number[],
    readonly params: SamplingParams,
    /** uint32 seed of this completion's sampling draws. */
    readonly seed: number,
    readonly priority: number,
    readonly arrivalTime: number,
    readonly cacheSalt: string | undefined,
  ) {
    this.tokenIds = [...promptIds];
  }

  get numOutputTokens(): number {
    return this.tokenIds.length - this.promptIds.length;
  }

  /** The generated tokens (prompt excluded). */
  get outputIds(): number[] {
    return this.tokenIds.slice(this.promptIds.length);
  }

  get isFinished(): boolean {
    return this.finishReason !== undefined;
  }

  /** Records a sampled token, its log-probability, the most likely alternatives, and its timing. */
  appendToken(tokenId: number, logprob: number, now: number, top?: readonly TokenLogprob[]): void {
    this.tokenIds.push(tokenId);
    this.logprobs.push(logprob);
    if (top) this.topLogprobs.push(top);
    if (this.lastTokenAt !== undefined) this.interTokenMs.push(now - this.lastTokenAt);
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
  }
}
