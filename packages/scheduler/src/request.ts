import type { CacheRequest } from '@ignis/kv-cache';

/**
 * A request as the scheduler sees it. One rule covers prefill, chunked prefill, decode, prefix
 * hits and recomputation after preemption: each step computes some of the tokens between
 * `numComputedTokens` and `tokenIds.length`.
 */
export interface SchedulerRequest extends CacheRequest {
  /** Lower runs first under the 'priority' policy. */
  readonly priority: number;
  /** For FCFS order and tie breaks. */
  readonly arrivalTime: number;
  /** Tokens whose KV is in the cache. The scheduler sets it (prefix hits, steps, preemption); the engine reads it. */
  numComputedTokens: number;
}

/** One request's share of a step. */
export interface ScheduledRequest {
  readonly request: SchedulerRequest;
  /** Tokens computed this step, from position `request.numComputedTokens` on. */
  readonly numNewTokens: number;
  /** This step reaches the request's last known token, so its logits give the next token. */
  readonly sample: boolean;
}

/** Everything one engine step computes. */
export interface StepPlan {
  /** Running requests first (decode rows and ongoing prefills), then newly admitted ones. */
  readonly scheduled: readonly ScheduledRequest[];
  /** Requests preempted by this step: their blocks are freed and they wait to be recomputed. */
  readonly preempted: readonly SchedulerRequest[];
  readonly numBatchedTokens: number;
}
