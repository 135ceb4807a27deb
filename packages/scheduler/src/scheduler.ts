import type { KvCacheManager } from '@ignis/kv-cache';
import { type SchedulingPolicy, policyOrder } from './policy.js';
import type { ScheduledRequest, SchedulerRequest, StepPlan } from './request.js';
import { RequestQueue } from './request-queue.js';

export interface SchedulerConfig {
  /** Most tokens computed in one step (all rows together). */
  readonly maxNumBatchedTokens: number;
  /** Most requests running (holding KV blocks) at once. */
  readonly maxNumSeqs: number;
  readonly policy: SchedulingPolicy;
  /** Longest request (prompt + output) the engine accepts. */
  readonly maxModelLen: number;
}

/** Counters since construction. */
export interface SchedulerStats {
  /** Plans that scheduled at least one token. */
  readonly steps: number;
  readonly preemptions: number;
  /** Tokens requests held when admitted: a prompt, or after a preemption the prompt and output so far. */
  readonly promptTokens: number;
  /** Of those, tokens taken from the prefix cache instead of computed. */
  readonly reusedPromptTokens: number;
  /** Tokens scheduled in all steps: prefill chunks and decode rows. */
  readonly computedTokens: number;
}

/**
 * Turns waiting and running requests into one {@link StepPlan} per step. Every request has
 * `tokenIds` and `numComputedTokens`; a step closes those gaps within `maxNumBatchedTokens`
 * tokens and `maxNumSeqs` requests: running requests first, then waiting ones, each in policy
 * order. When the KV cache runs out, the last running request in policy order is preempted
 * (blocks freed, recomputed later); no request is ever dropped.
 *
 * The engine's loop: `schedule()`, run the plan, `update(plan)`, append each sampled token to its
 * request's `tokenIds`, `finish()` the requests its stop rules ended, repeat. `update` reads
 * only tokens below `numComputedTokens`, so appending before it works too; what matters is that
 * both happen before the next `schedule()`. One plan at a time.
 */
export class Scheduler {
  private readonly waiting: RequestQueue;
  private readonly running: RequestQueue;
  private readonly requests = new Map<string, SchedulerRequest>();
  private readonly counters = { steps: 0, preemptions: 0, promptTokens: 0, reusedPromptTokens: 0, computedTokens: 0 };

  constructor(
    readonly config: SchedulerConfig,
    private readonly cache: KvCacheManager,
  ) {
    for (const name of ['maxNumBatchedTokens', 'maxNumSeqs', 'maxModelLen'] as const) {
      const value = config[name];
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    const order = policyOrder(config.policy);
    this.waiting = new RequestQueue(order);
    this.running = new RequestQueue(order);
    // A request alone must always fit, or it would preempt itself forever.
    const blocksForLongest = Math.ceil(config.maxModelLen / cache.blockSize);
    if (blocksForLongest > cache.numBlocks - 1) {
      throw new RangeError(
        `the KV cache holds ${(cache.numBlocks - 1) * cache.blockSize} tokens (${cache.numBlocks - 1} blocks of ${cache.blockSize}), less than one request of maxModelLen ${config.maxModelLen}`,
      );
    }
  }

  /** Queues a new request (its `numComputedTokens` is set to 0: it holds no KV yet). */
  add(request: SchedulerRequest): void {
    if (this.requests.has(request.id)) throw new Error(`request ${request.id} is already scheduled`);
    if (request.tokenIds.length === 0) throw new RangeError(`request ${request.id} has no tokens`);
    this.checkLength(request);
    request.numComputedTokens = 0;
    this.requests.set(request.id, request);
    this.waiting.insert(request);
  }

  /** Removes a request wherever it is and frees its blocks at once; false for an unknown (e.g. finished) id. */
  cancel(requestId: string): boolean {
    const request = this.running.remove(requestId) ?? this.waiting.remove(requestId);
    if (request === undefined) return false;
    this.requests.delete(requestId);
    this.cache.free(requestId);
    return true;
  }

  /** The engine's stop rules ended the request: its blocks are freed (cached prefixes stay reusable). */
  finish(requestId: string): void {
    if (!this.cancel(requestId)) throw new Error(`request ${requestId} is not scheduled`);
  }

  /** Decides this step and allocates its KV slots. */
  schedule(): StepPlan {
    let budget = this.config.maxNumBatchedTokens;
    const scheduled: ScheduledRequest[] = [];
    const preempted: SchedulerRequest[] = [];
    for (const request of this.running) this.checkLength(request); // before anything changes
    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const request = this.running.at(i)!;
      const numNewTokens = Math.min(request.tokenIds.length - request.numComputedTokens, budget);
      if (numNewTokens <= 0) continue;
      if (!this.allocateOrPreempt(request, numNewTokens, preempted)) break;
      scheduled.push(this.row(request, numNewTokens));
      budget -= numNewTokens;
    }
    // After a preemption the cache is full: admitting new work would only be preempted in turn.
    if (preempted.length === 0) budget = this.admit(budget, scheduled);
    const numBatchedTokens = this.config.maxNumBatchedTokens - budget;
    if (scheduled.length > 0) this.counters.steps++;
    this.counters.computedTokens += numBatchedTokens;
    return { scheduled, preempted, numBatchedTokens };
  }

  /**
   * After the runner executed `plan`: advances each scheduled request's `numComputedTokens` and
   * files its newly full blocks in the prefix cache. Requests cancelled or finished since
   * `schedule()` are skipped.
   */
  update(plan: StepPlan): void {
    for (const { request, numNewTokens } of plan.scheduled) {
      if (this.requests.get(request.id) !== request) continue;
      request.numComputedTokens += numNewTokens;
      this.cache.cacheBlocks(request, request.numComputedTokens);
    }
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  hasUnfinished(): boolean {
    return this.requests.size > 0;
  }

  get stats(): SchedulerStats {
    return { ...this.counters };
  }

  /**
   * Slots for `numNewTokens` more tokens of a running request, preempting running requests from
   * the back of the policy order until they fit. False when the request had to preempt itself.
   */
  private allocateOrPreempt(request: SchedulerRequest, numNewTokens: number, preempted: SchedulerRequest[]): boolean {
    while (this.cache.allocateSlots(request, request.numComputedTokens, numNewTokens) === null) {
      const victim = this.running.pop()!;
      this.cache.free(victim.id);
      victim.numComputedTokens = 0;
      this.waiting.insert(victim);
      preempted.push(victim);
      this.counters.preemptions++;
      if (victim === request) return false;
    }
    return true;
  }

  /**
   * Admits waiting requests in policy order while budget, sequences and blocks last. The first
   * that does not fit stops admission (it stays first in line; nothing running is preempted for
   * it). Returns the budget left.
   */
  private admit(budget: number, scheduled: ScheduledRequest[]): number {
    while (budget > 0 && this.running.length < this.config.maxNumSeqs) {
      const request = this.waiting.peek();
      if (request === undefined) break;
      const computed = this.cache.getComputedBlocks(request);
      const numNewTokens = Math.min(request.tokenIds.length - computed.numTokens, budget);
      if (this.cache.allocateSlots(request, computed.numTokens, numNewTokens, computed) === null) break;
      this.waiting.shift();
      request.numComputedTokens = computed.numTokens;
      this.running.insert(request);
      this.counters.promptTokens += request.tokenIds.length;
      this.counters.reusedPromptTokens += computed.numTokens;
      scheduled.push(this.row(request, numNewTokens));
      budget -= numNewTokens;
    }
    return budget;
  }

  private row(request: SchedulerRequest, numNewTokens: number): ScheduledRequest {
    return { request, numNewTokens, sample: request.numComputedTokens + numNewTokens === request.tokenIds.length };
  }

  private checkLength(request: SchedulerRequest): void {
    if (request.tokenIds.length > this.config.maxModelLen) {
      throw new RangeError(
        `request ${request.id} has ${request.tokenIds.length} tokens, more than maxModelLen ${this.config.maxModelLen}: the engine must reject long prompts and stop generation at maxModelLen`,
      );
    }
  }
}
