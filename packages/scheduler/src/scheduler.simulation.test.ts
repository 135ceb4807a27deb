import { KvCacheManager } from '@ignis/kv-cache';
import { describe, expect, it } from 'vitest';
import type { SchedulingPolicy } from './policy.js';
import { Scheduler } from './scheduler.js';
import { FakeEngine, type FakeRequestSpec, referenceOutput } from './testing/fake-engine.js';
import { seededRandom } from './testing/seeded-random.js';

interface World {
  readonly policy?: SchedulingPolicy;
  readonly numBlocks: number;
  readonly blockSize?: number;
  readonly enablePrefixCaching?: boolean;
  readonly maxNumBatchedTokens?: number;
  readonly maxNumSeqs?: number;
  readonly maxModelLen?: number;
}

function world(w: World) {
  const cache = new KvCacheManager({ numBlocks: w.numBlocks, blockSize: w.blockSize ?? 8, enablePrefixCaching: w.enablePrefixCaching ?? true });
  const scheduler = new Scheduler(
    { maxNumBatchedTokens: w.maxNumBatchedTokens ?? 256, maxNumSeqs: w.maxNumSeqs ?? 32, policy: w.policy ?? 'fcfs', maxModelLen: w.maxModelLen ?? 256 },
    cache,
  );
  return { cache, scheduler, engine: new FakeEngine(scheduler, cache) };
}

/** Random requests: prompts from a few shared prefixes plus random tails, random lengths and priorities. */
function randomSpecs(seed: number, count: number, maxModelLen: number): FakeRequestSpec[] {
  const random = seededRandom(seed);
  const prefixes = [0, 1, 2].map((p) => Array.from({ length: 24 + 20 * p }, (_, i) => (i * 7 + p) % 64));
  return Array.from({ length: count }, (_, i) => {
    const shared = random(3) === 0 ? [] : prefixes[random(3)]!.slice(0, 8 + random(40));
    const prompt = [...shared, ...Array.from({ length: 1 + random(60), }, () => random(64))];
    return { id: `r${i}`, prompt, maxTokens: 1 + random(Math.min(40, maxModelLen - prompt.length)), priority: random(4), cacheSalt: random(5) === 0 ? 'tenant' : undefined };
  });
}

function expectReferenceOutputs(engine: FakeEngine, specs: readonly FakeRequestSpec[], maxModelLen: number): void {
  for (const spec of specs) expect(engine.outputs.get(spec.id), spec.id).toEqual(referenceOutput(spec.prompt, spec.maxTokens, maxModelLen));
}

describe('Scheduler in simulation', () => {
  it('computes far fewer prompt tokens when 100 requests share a long prefix', () => {
    const prefix = Array.from({ length: 512 }, (_, i) => (i * 13) % 64);
    const specs = Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, prompt: [...prefix, i % 64, (i * 3) % 64, 7], maxTokens: 4 }));
    const computed = (enablePrefixCaching: boolean) => {
      const { engine, scheduler } = world({ numBlocks: 2048, enablePrefixCaching, maxNumBatchedTokens: 1024, maxModelLen: 1024 });
      for (const spec of specs) engine.add(spec);
      engine.runToCompletion();
      expectReferenceOutputs(engine, specs, 1024);
      return scheduler.stats;
    };
    const on = computed(true);
    const off = computed(false);
    expect(off.reusedPromptTokens).toBe(0);
    expect(on.promptTokens).toBe(off.promptTokens);
    // Only the first steps compute the prefix; then each request computes its tail alone.
    expect(on.promptTokens - on.reusedPromptTokens).toBeLessThan((off.promptTokens - off.reusedPromptTokens) / 10);
    expect(on.computedTokens).toBeLessThan(off.computedTokens / 5);
  });

  for (const policy of ['fcfs', 'priority'] as const) {
    for (const enablePrefixCaching of [true, false]) {
      it(`gives every request the same tokens under a small pool with preemption (${policy}, caching ${enablePrefixCaching ? 'on' : 'off'})`, () => {
        const specs = randomSpecs(7, 60, 160);
        const { engine, scheduler, cache } = world({ policy, numBlocks: 30, enablePrefixCaching, maxNumBatchedTokens: 64, maxNumSeqs: 16, maxModelLen: 160 });
        specs.forEach((spec, i) => engine.add({ ...spec, arrivalTime: i }));
        engine.runToCompletion();
        expect(scheduler.stats.preemptions).toBeGreaterThan(10);
        expectReferenceOutputs(engine, specs, 160);
        expect(cache.usage).toBe(0);
      });
    }
  }

  it('finishes every request that is not cancelled, whenever cancellations come', () => {
    const specs = randomSpecs(11, 80, 160);
    const random = seededRandom(12);
    const { engine, cache } = world({ numBlocks: 40, maxNumBatchedTokens: 48, maxNumSeqs: 12, maxModelLen: 160 });
    const cancelled = new Set<string>();
    let next = 0;
    while (next < specs.length || engine.numLive > 0) {
      if (next < specs.length && random(2) === 0) engine.add(specs[next++]!);
      if (random(6) === 0) {
        const id = `r${random(next)}`;
        if (engine.cancel(id)) cancelled.add(id);
      }
      engine.step();
    }
    expect(cancelled.size).toBeGreaterThan(5);
    for (const spec of specs) {
      if (cancelled.has(spec.id)) expect(engine.outputs.has(spec.id)).toBe(false);
      else expect(engine.outputs.get(spec.id)).toEqual(referenceOutput(spec.prompt, spec.maxTokens, 160));
    }
    expect(cache.usage).toBe(0);
  });

  it('runs 1,000 random requests with random cancellations and leaves only the prefix cache behind', () => {
    const maxModelLen = 200;
    const specs = randomSpecs(2024, 1000, maxModelLen);
    const random = seededRandom(99);
    const { engine, scheduler, cache } = world({ policy: 'priority', numBlocks: 120, maxNumBatchedTokens: 128, maxNumSeqs: 24, maxModelLen });
    let next = 0;
    let cancelled = 0;
    let steps = 0;
    while (next < specs.length || scheduler.hasUnfinished()) {
      for (let burst = random(4); burst > 0 && next < specs.length; burst--) engine.add(specs[next++]!);
      if (random(10) === 0 && engine.cancel(`r${random(next)}`)) cancelled++;
      engine.step();
      expect(++steps).toBeLessThan(100_000);
    }
    expect(engine.outputs.size + cancelled).toBe(specs.length);
    for (const [id, output] of engine.outputs) {
      const spec = specs[Number(id.slice(1))]!;
      expect(output).toEqual(referenceOutput(spec.prompt, spec.maxTokens, maxModelLen));
    }
    expect(scheduler.stats.preemptions).toBeGreaterThan(0);
    expect(scheduler.stats.reusedPromptTokens).toBeGreaterThan(0);
    // Every block is free; the prefix cache still names some of them until it is reset.
    expect(cache.usage).toBe(0);
    expect(cache.numFreeBlocks).toBe(cache.numBlocks - 1);
    expect(cache.numCachedBlocks).toBeGreaterThan(0);
    for (let block = 0; block < cache.numBlocks; block++) expect(cache.refCount(block)).toBe(0);
    expect(cache.resetPrefixCache()).toBe(true);
    expect(cache.numCachedBlocks).toBe(0);
    expect(cache.numFreeBlocks).toBe(cache.numBlocks - 1);
  });
});
