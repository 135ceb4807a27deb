import type { SamplingParams } from './sampling/params.js';

/** Why a sequence stopped: a stop token or string, or a length limit. */
export type FinishReason = 'stop' | 'length';

/**
 * One sequence being generated. The single rule of the step loop: each step computes some of
 * the tokens between `numComputed` and `tokenIds.length` (a prompt, a chunk of one, or the last
 * sampled token); the step that reaches the end samples the next token.
 */
export class Sequence {
  readonly tokenIds: number[];
  /** Tokens whose K/V are in the cache. */
  numComputed = 0;
  /** KV-cache block ids, in order: position p lives in blocks[floor(p / blockSize)]. */
  readonly blocks: number[] = [];
  finishReason: FinishReason | undefined;

  constructor(
    readonly id: number,
    readonly promptIds: readonly number[],
    readonly params: SamplingParams,
    /** uint32 seed of this sequence's sampling draws (see `sampleUniform`). */
    readonly seed: number,
  ) {
    this.tokenIds = [...promptIds];
  }

  get numTokens(): number {
    return this.tokenIds.length;
  }

  /** The generated tokens (prompt excluded). */
  get outputIds(): number[] {
    return this.tokenIds.slice(this.promptIds.length);
  }

  get numOutputTokens(): number {
    return this.tokenIds.length - this.promptIds.length;
  }

  get isFinished(): boolean {
    return this.finishReason !== undefined;
  }
}

/** One sequence's share of a step: how many new tokens it computes and whether it samples. */
export interface ScheduledSequence {
  readonly seq: Sequence;
  readonly numNewTokens: number;
  /** True when this step reaches the sequence's last token, so its logits give the next token. */
  readonly sample: boolean;
}

/** Everything one engine step computes. */
export interface StepPlan {
  readonly scheduled: readonly ScheduledSequence[];
}
