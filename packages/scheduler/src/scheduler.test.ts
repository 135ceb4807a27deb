import { KvCacheManager } from '@ignis/kv-cache';
import { describe, expect, it } from 'vitest';
import type { SchedulerRequest } from './request.js';
import { Scheduler, type SchedulerConfig } from './scheduler.js';
import { FakeEngine, referenceOutput } from './testing/fake-engine.js';

const BLOCK = 4;

function setup(config: Partial<SchedulerConfig> = {}, numBlocks = 200, enablePrefixCaching = true) {
  const cache = new KvCacheManager({ numBlocks, blockSize: BLOCK, enablePrefixCaching });
  const scheduler = new Scheduler({ maxNumBatchedTokens: 32, maxNumSeqs: 8, policy: 'fcfs', maxModelLen: 128, ...config }, cache);
  return { cache, scheduler, engine: new FakeEngine(scheduler, cache) };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** What each row of a plan computes, as "id:tokens" plus "!" where it samples. */
function rows(plan: { scheduled: readonly { request: SchedulerRequest; numNewTokens: number; sample: boolean }[] }): string[] {
  return plan.scheduled.map((s) => `${s.request.id}:${s.numNewTokens}${s.sample ? '!' : ''}`);
}

describe('Scheduler', () => {
  it('splits a long prompt over steps (chunked prefill) and samples only at its end', () => {
    const { engine } = setup();
    engine.add({ id: 'a', prompt: range(0, 100), maxTokens: 3 });
    const plans = Array.from({ length: 6 }, () => rows(engine.step()));
    expect(plans).toEqual([['a:32'], ['a:32'], ['a:32'], ['a:4!'], ['a:1!'], ['a:1!']]);
    expect(engine.outputs.get('a')).toEqual(referenceOutput(range(0, 100), 3, 128));
  });

  it('schedules running requests (decode rows) before admitting waiting ones', () => {
    const { engine } = setup();
    engine.add({ id: 'a', prompt: range(0, 8), maxTokens: 10 });
    expect(rows(engine.step())).toEqual(['a:8!']);
    engine.add({ id: 'b', prompt: range(0, 100), maxTokens: 1 });
    engine.add({ id: 'c', prompt: range(50, 60), maxTokens: 1 });
    expect(rows(engine.step())).toEqual(['a:1!', 'b:31']);
    expect(rows(engine.step())).toEqual(['a:1!', 'b:31']); // c waits behind b: first in line first
  });

  it('serves waiting requests first come, first served', () => {
    const { engine } = setup({ maxNumSeqs: 1 });
    engine.add({ id: 'late', prompt: [1], maxTokens: 1, priority: 0, arrivalTime: 5 });
    engine.add({ id: 'early', prompt: [2], maxTokens: 1, priority: 9, arrivalTime: 1 });
    engine.add({ id: 'middle', prompt: [3], maxTokens: 1, priority: 5, arrivalTime: 3 });
    expect([engine.step(), engine.step(), engine.step()].map(rows)).toEqual([['early:1!'], ['middle:1!'], ['late:1!']]);
  });

  it('serves waiting requests by priority, then arrival, under the priority policy', () => {
    const { engine } = setup({ maxNumSeqs: 1, policy: 'priority' });
    engine.add({ id: 'p5', prompt: [1], maxTokens: 1, priority: 5, arrivalTime: 0 });
    engine.add({ id: 'p1-late', prompt: [2], maxTokens: 1, priority: 1, arrivalTime: 2 });
    engine.add({ id: 'p1', prompt: [3], maxTokens: 1, priority: 1, arrivalTime: 1 });
    expect([engine.step(), engine.step(), engine.step()].map(rows)).toEqual([['p1:1!'], ['p1-late:1!'], ['p5:1!']]);
  });

  it('never runs more than maxNumSeqs requests', () => {
    const { engine, scheduler } = setup({ maxNumSeqs: 3 });
    for (let i = 0; i < 10; i++) engine.add({ id: `r${i}`, prompt: [i, i], maxTokens: 4 });
    expect(rows(engine.step())).toEqual(['r0:2!', 'r1:2!', 'r2:2!']);
    expect(scheduler.numRunning).toBe(3);
    expect(scheduler.numWaiting).toBe(7);
  });

  it('takes prefix hits on admission and counts them', () => {
    const { engine, scheduler } = setup({ maxNumBatchedTokens: 64 });
    engine.add({ id: 'a', prompt: range(0, 20), maxTokens: 1 });
    engine.runToCompletion();
    engine.add({ id: 'b', prompt: [...range(0, 16), 7, 7], maxTokens: 1 });
    const plan = scheduler.schedule();
    expect(rows(plan)).toEqual(['b:2!']);
    expect(plan.scheduled[0]!.request.numComputedTokens).toBe(16);
    scheduler.update(plan);
    expect(plan.scheduled[0]!.request.numComputedTokens).toBe(18);
    expect(scheduler.stats).toEqual({ steps: 2, preemptions: 0, promptTokens: 38, reusedPromptTokens: 16, computedTokens: 22 });
  });

  it('preempts the last running request in policy order, which then waits to be recomputed', () => {
    // 6 usable blocks of 4 tokens; three prompts of 8 tokens fill them.
    const { engine, scheduler, cache } = setup({ policy: 'priority', maxModelLen: 24 }, 7, false);
    engine.add({ id: 'urgent', prompt: range(0, 8), maxTokens: 5, priority: 0 });
    engine.add({ id: 'background', prompt: range(10, 18), maxTokens: 5, priority: 2 });
    engine.add({ id: 'normal', prompt: range(20, 28), maxTokens: 5, priority: 1 });
    expect(rows(engine.step())).toEqual(['urgent:8!', 'normal:8!', 'background:8!']);
    expect(cache.numFreeBlocks).toBe(0);
    // urgent needs a third block: background, last in policy order, goes (and frees two).
    const plan = engine.step();
    expect(plan.preempted.map((r) => r.id)).toEqual(['background']);
    expect(rows(plan)).toEqual(['urgent:1!', 'normal:1!']);
    expect(plan.preempted[0]!.numComputedTokens).toBe(0);
    expect(scheduler.numWaiting).toBe(1);
    engine.runToCompletion();
    for (const [id, prompt] of [['urgent', range(0, 8)], ['background', range(10, 18)], ['normal', range(20, 28)]] as const) {
      expect(engine.outputs.get(id)).toEqual(referenceOutput(prompt, 5, 24));
    }
  });

  it('preempts the request itself when it is the last in policy order', () => {
    const { engine, scheduler } = setup({ maxModelLen: 16 }, 5, false); // 4 usable blocks
    engine.add({ id: 'first', prompt: range(0, 6), maxTokens: 4 });
    engine.add({ id: 'second', prompt: range(10, 18), maxTokens: 4 });
    expect(rows(engine.step())).toEqual(['first:6!', 'second:8!']);
    const plan = engine.step(); // first still fits its 2 blocks; second needs a third
    expect(rows(plan)).toEqual(['first:1!']);
    expect(plan.preempted.map((r) => r.id)).toEqual(['second']);
    expect(scheduler.stats.preemptions).toBe(1);
    engine.runToCompletion();
    expect(engine.outputs.get('second')).toEqual(referenceOutput(range(10, 18), 4, 16));
  });

  it('lets a waiting request that does not fit wait, preempting nothing for it', () => {
    const { engine, scheduler } = setup({ maxModelLen: 40, maxNumBatchedTokens: 64 }, 11, false); // 10 usable blocks
    engine.add({ id: 'a', prompt: range(0, 30), maxTokens: 2 }); // 8 blocks
    engine.step();
    engine.add({ id: 'b', prompt: range(0, 12), maxTokens: 2 }); // 3 blocks: does not fit yet
    const plan = engine.step();
    expect(rows(plan)).toEqual(['a:1!']);
    expect(plan.preempted).toEqual([]);
    expect(scheduler.numWaiting).toBe(1);
    engine.runToCompletion();
    expect(engine.outputs.get('b')).toEqual(referenceOutput(range(0, 12), 2, 40));
  });

  it('cancels waiting and running requests, freeing blocks at once, and skips them in update', () => {
    const { engine, scheduler, cache } = setup();
    engine.add({ id: 'a', prompt: range(0, 10), maxTokens: 5 });
    engine.add({ id: 'b', prompt: range(20, 30), maxTokens: 5 });
    const plan = scheduler.schedule();
    expect(scheduler.cancel('a')).toBe(true);
    expect(cache.blockIds('a')).toEqual([]);
    scheduler.update(plan); // a was cancelled in between: skipped
    expect(plan.scheduled[0]!.request.numComputedTokens).toBe(0);
    expect(plan.scheduled[1]!.request.numComputedTokens).toBe(10);
    expect(scheduler.cancel('a')).toBe(false);
    engine.add({ id: 'c', prompt: [1], maxTokens: 1 });
    expect(scheduler.cancel('c')).toBe(true);
    expect(scheduler.numWaiting).toBe(0);
    expect(scheduler.cancel('b')).toBe(true);
    expect(scheduler.hasUnfinished()).toBe(false);
    expect(cache.usage).toBe(0);
  });

  it('rejects what the engine should have caught, with a clear error', () => {
    const { scheduler } = setup({ maxModelLen: 16 });
    const request = (id: string, tokenIds: number[]): SchedulerRequest => ({ id, tokenIds, priority: 0, arrivalTime: 0, numComputedTokens: 0 });
    expect(() => scheduler.add(request('long', range(0, 17)))).toThrow(/17 tokens, more than maxModelLen 16/);
    expect(() => scheduler.add(request('empty', []))).toThrow(/no tokens/);
    scheduler.add(request('a', [1]));
    expect(() => scheduler.add(request('a', [1]))).toThrow(/already/);
    expect(() => scheduler.finish('nobody')).toThrow(/not scheduled/);
    scheduler.update(scheduler.schedule());
    expect(scheduler.schedule().scheduled).toEqual([]); // a's sampled token was not appended: nothing to compute
    const cache = new KvCacheManager({ numBlocks: 4, blockSize: 4, enablePrefixCaching: true });
    expect(() => new Scheduler({ maxNumBatchedTokens: 8, maxNumSeqs: 2, policy: 'fcfs', maxModelLen: 16 }, cache)).toThrow(/less than one request/);
    const big = new KvCacheManager({ numBlocks: 64, blockSize: 4, enablePrefixCaching: true });
    expect(() => new Scheduler({ maxNumBatchedTokens: 0, maxNumSeqs: 2, policy: 'fcfs', maxModelLen: 16 }, big)).toThrow(/maxNumBatchedTokens/);
    expect(() => new Scheduler({ maxNumBatchedTokens: 8, maxNumSeqs: 2, policy: 'lifo' as 'fcfs', maxModelLen: 16 }, big)).toThrow(/policy/);
  });

  it('asserts a running request never outgrows maxModelLen', () => {
    const { scheduler } = setup({ maxModelLen: 8 });
    const request: SchedulerRequest & { tokenIds: number[] } = { id: 'a', tokenIds: range(0, 8), priority: 0, arrivalTime: 0, numComputedTokens: 0 };
    scheduler.add(request);
    scheduler.update(scheduler.schedule());
    request.tokenIds.push(1); // the engine forgot to stop it at maxModelLen
    expect(() => scheduler.schedule()).toThrow(/9 tokens, more than maxModelLen 8/);
  });
});
