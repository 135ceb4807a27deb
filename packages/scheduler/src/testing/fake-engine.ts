import { fmix32 } from '@ignis/tensor';
import type { KvCacheManager } from '@ignis/kv-cache';
import type { SchedulerRequest, StepPlan } from '../request.js';
import type { Scheduler } from '../scheduler.js';

/**
 * A deterministic stand-in for the engine and its model, to test scheduling end to end without
 * a GPU. The fake model writes, for every computed position, a value that depends on all tokens
 * up to it, reading the previous one through the block table (as attention reads the cache).
 * Before sampling it checks every position of the context against a recomputation from the
 * request's tokens, so a wrong prefix hit, a block shared by mistake or a block overwritten by
 * another request throws instead of passing unnoticed. The sampled token depends only on the
 * tokens, so it is the same however the request was batched, chunked, preempted or cached.
 */

/** Tokens the fake model samples from. */
const VOCAB = 64;
const ROOT = 0x2545f491;

/** The fake model's state after `token`, given its state after the previous token. */
function roll(previous: number, token: number): number {
  return fmix32((previous ^ Math.imul(token + 1, 0x9e3779b1)) >>> 0);
}

function sampleFrom(state: number): number {
  return state % VOCAB;
}

/** What the fake engine generates for `prompt`, however it is scheduled. */
export function referenceOutput(prompt: readonly number[], maxTokens: number, maxModelLen: number): number[] {
  let state = ROOT;
  for (const token of prompt) state = roll(state, token);
  const output: number[] = [];
  while (output.length < maxTokens && prompt.length + output.length < maxModelLen) {
    const token = sampleFrom(state);
    output.push(token);
    state = roll(state, token);
  }
  return output;
}

export interface FakeRequestSpec {
  readonly id: string;
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  readonly priority?: number;
  /** Default: the order of `add` calls. */
  readonly arrivalTime?: number;
  readonly cacheSalt?: string;
}

interface FakeRequest extends SchedulerRequest {
  readonly tokenIds: number[];
}

interface Live {
  readonly request: FakeRequest;
  readonly promptLength: number;
  readonly maxTokens: number;
}

export class FakeEngine {
  /** Generated tokens of each finished request. */
  readonly outputs = new Map<string, number[]>();
  private readonly live = new Map<string, Live>();
  private readonly slots: Float64Array;
  private arrivals = 0;

  constructor(
    readonly scheduler: Scheduler,
    readonly cache: KvCacheManager,
  ) {
    this.slots = new Float64Array(cache.numBlocks * cache.blockSize).fill(Number.NaN);
  }

  add(spec: FakeRequestSpec): void {
    const request: FakeRequest = {
      id: spec.id,
      tokenIds: [...spec.prompt],
      priority: spec.priority ?? 0,
      arrivalTime: spec.arrivalTime ?? this.arrivals++,
      numComputedTokens: 0,
      cacheSalt: spec.cacheSalt,
    };
    this.scheduler.add(request);
    this.live.set(spec.id, { request, promptLength: spec.prompt.length, maxTokens: spec.maxTokens });
  }

  cancel(id: string): boolean {
    this.live.delete(id);
    return this.scheduler.cancel(id);
  }

  get numLive(): number {
    return this.live.size;
  }

  /** One engine step: schedule, run the fake model, update, append samples, apply stop rules. */
  step(): StepPlan {
    const plan = this.scheduler.schedule();
    this.checkPlan(plan);
    const sampled = this.execute(plan);
    this.scheduler.update(plan);
    for (const [id, token] of sampled) {
      const live = this.live.get(id)!;
      live.request.tokenIds.push(token);
      const numOutput = live.request.tokenIds.length - live.promptLength;
      if (numOutput >= live.maxTokens || live.request.tokenIds.length >= this.scheduler.config.maxModelLen) {
        this.scheduler.finish(id);
        this.live.delete(id);
        this.outputs.set(id, live.request.tokenIds.slice(live.promptLength));
      }
    }
    return plan;
  }

  /** Steps until nothing is left; throws if that takes more than `maxSteps` (a stall). */
  runToCompletion(maxSteps = 100_000): void {
    for (let i = 0; i < maxSteps; i++) {
      if (!this.scheduler.hasUnfinished()) return;
      this.step();
    }
    throw new Error(`requests still unfinished after ${maxSteps} steps`);
  }

  /** The fake model: writes each scheduled position's state, and samples where the plan says so. */
  private execute(plan: StepPlan): Map<string, number> {
    const sampled = new Map<string, number>();
    for (const { request, numNewTokens, sample } of plan.scheduled) {
      const start = request.numComputedTokens;
      for (let p = start; p < start + numNewTokens; p++) {
        const previous = p === 0 ? ROOT : this.slots[this.slot(request.id, p - 1)]!;
        this.slots[this.slot(request.id, p)] = roll(previous, request.tokenIds[p]!);
      }
      if (sample) sampled.set(request.id, sampleFrom(this.checkContext(request)));
    }
    return sampled;
  }

  /** Recomputes the request's states from its tokens and compares every cached one; returns the last. */
  private checkContext(request: SchedulerRequest): number {
    let state = ROOT;
    for (let p = 0; p < request.tokenIds.length; p++) {
      state = roll(state, request.tokenIds[p]!);
      const cached = this.slots[this.slot(request.id, p)];
      if (cached !== state) throw new Error(`request ${request.id}: the KV cache holds the wrong state at position ${p}`);
    }
    return state;
  }

  private slot(requestId: string, position: number): number {
    const { blockSize } = this.cache;
    const block = this.cache.blockIds(requestId)[Math.floor(position / blockSize)];
    if (block === undefined || block === 0) throw new Error(`request ${requestId} has no block for position ${position}`);
    return block * blockSize + (position % blockSize);
  }

  /** What every plan must satisfy, whatever the load. */
  private checkPlan(plan: StepPlan): void {
    const { maxNumBatchedTokens, maxNumSeqs } = this.scheduler.config;
    const ids = new Set(plan.scheduled.map((s) => s.request.id));
    const total = plan.scheduled.reduce((sum, s) => sum + s.numNewTokens, 0);
    const fail = (why: string): never => {
      throw new Error(`bad plan: ${why}`);
    };
    if (ids.size !== plan.scheduled.length) fail('a request is scheduled twice');
    if (total !== plan.numBatchedTokens) fail(`rows add up to ${total}, numBatchedTokens is ${plan.numBatchedTokens}`);
    if (total > maxNumBatchedTokens) fail(`${total} tokens, budget ${maxNumBatchedTokens}`);
    if (this.scheduler.numRunning > maxNumSeqs) fail(`${this.scheduler.numRunning} running, maxNumSeqs ${maxNumSeqs}`);
    for (const { request, numNewTokens, sample } of plan.scheduled) {
      if (numNewTokens < 1) fail(`${request.id} gets ${numNewTokens} tokens`);
      const end = request.numComputedTokens + numNewTokens;
      if (end > request.tokenIds.length) fail(`${request.id} computes past its tokens`);
      if (sample !== (end === request.tokenIds.length)) fail(`${request.id} sample flag is wrong`);
    }
    for (const request of plan.preempted) {
      if (ids.has(request.id)) fail(`${request.id} is both scheduled and preempted`);
      if (request.numComputedTokens !== 0 || this.cache.blockIds(request.id).length !== 0) fail(`${request.id} was preempted but keeps KV`);
    }
  }
}
