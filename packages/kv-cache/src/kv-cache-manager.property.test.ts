import { seededRandom } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import type { BlockHashFn } from './block-hash.js';
import { KvCacheManager } from './kv-cache-manager.js';

/** A seeded generator of integers in [0, n), so a failure replays. */
function rng(seed: number): (n: number) => number {
  const next = seededRandom(seed);
  return (n) => Math.floor(next() * n);
}

interface Live {
  readonly id: string;
  readonly tokenIds: number[];
  readonly cacheSalt: string | undefined;
  numComputed: number;
  /** Blocks it got from the prefix cache: the only ones it may share. */
  readonly hits: ReadonlySet<number>;
}

/** A plain check for the hot loops (expect() per slot would make the run slow). */
function assert(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

const BLOCK = 4;
const NUM_BLOCKS = 24;
const TEMPLATES = [
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  [1, 2, 3, 4, 5, 6, 7, 8, 20, 21, 22, 23],
  [30, 31, 32, 33, 34, 35, 36, 37],
];
/** Weak hashes: collisions everywhere, so only the confirmation keeps hits correct. */
const WEAK: BlockHashFn = (parent, tokens, start) => (parent + tokens[start]!) % 5;

/**
 * Thousands of random admissions (with prefix hits), chunks, sampled tokens, frees and resets
 * against a model of who holds what, and of what each KV slot holds: every slot records the
 * exact prefix it was computed after, so a hit on wrong content shows.
 */
function run(seed: number, hashBlock: BlockHashFn | undefined): { hitTokens: number; refusals: number; evicted: number } {
  const random = rng(seed);
  const kv = new KvCacheManager({ numBlocks: NUM_BLOCKS, blockSize: BLOCK, enablePrefixCaching: true, hashBlock });
  const live = new Map<string, Live>();
  const slots = new Map<number, string>();
  let nextId = 0;
  let refusals = 0;

  const pick = <T>(items: readonly T[]): T => items[random(items.length)]!;
  const snapshot = (): string =>
    JSON.stringify({ free: kv.numFreeBlocks, cached: kv.numCachedBlocks, refs: Array.from({ length: NUM_BLOCKS }, (_, b) => kv.refCount(b)) });

  const write = (r: Live, numNew: number): void => {
    const blockIds = kv.blockIds(r.id);
    for (let p = r.numComputed; p < r.numComputed + numNew; p++) {
      const block = blockIds[Math.floor(p / BLOCK)]!;
      assert(kv.refCount(block) === 1, () => `${r.id} writes into block ${block}, which ${kv.refCount(block)} requests hold`);
      slots.set(block * BLOCK + (p % BLOCK), `${r.cacheSalt}|${r.tokenIds.slice(0, p + 1).join(',')}`);
    }
    r.numComputed += numNew;
    kv.cacheBlocks(r, r.numComputed);
  };

  const admit = (): void => {
    const tokenIds = [...pick(TEMPLATES).slice(0, 4 + random(9)), ...Array.from({ length: random(12) }, () => random(4))];
    if (tokenIds.length === 0) tokenIds.push(0);
    const cacheSalt = pick([undefined, undefined, 'salt']);
    const request = { id: `r${nextId++}`, tokenIds, cacheSalt };
    const computed = kv.getComputedBlocks(request);
    assert(computed.numTokens === computed.blocks.length * BLOCK && computed.numTokens < tokenIds.length, () => `bad hit ${JSON.stringify(computed)}`);
    computed.blocks.forEach((block, i) => {
      for (let o = 0; o < BLOCK; o++) {
        const want = `${cacheSalt}|${tokenIds.slice(0, i * BLOCK + o + 1).join(',')}`;
        const got = slots.get(block * BLOCK + o);
        assert(got === want, () => `hit block ${block} slot ${o} holds ${got}, ${request.id} needs ${want}`);
      }
    });
    const numNew = 1 + random(tokenIds.length - computed.numTokens);
    const before = snapshot();
    if (kv.allocateSlots(request, computed.numTokens, numNew, computed) === null) {
      refusals++;
      assert(snapshot() === before && kv.blockIds(request.id).length === 0, () => `a refused admission of ${request.id} changed the pool`);
      return;
    }
    const r: Live = { ...request, numComputed: computed.numTokens, hits: new Set(computed.blocks) };
    live.set(r.id, r);
    write(r, numNew);
  };

  const step = (r: Live): void => {
    if (r.numComputed === r.tokenIds.length) r.tokenIds.push(random(4)); // it sampled a token
    const numNew = 1 + random(r.tokenIds.length - r.numComputed);
    const before = snapshot();
    if (kv.allocateSlots(r, r.numComputed, numNew) === null) {
      refusals++;
      assert(snapshot() === before, () => `a refused allocation for ${r.id} changed the pool`);
      kv.free(r.id); // preempted
      live.delete(r.id);
      return;
    }
    write(r, numNew);
  };

  const check = (): void => {
    const holders = new Map<number, Live[]>();
    for (const r of live.values()) {
      const blockIds = kv.blockIds(r.id);
      assert(new Set(blockIds).size === blockIds.length, () => `${r.id} holds a block twice: ${blockIds}`);
      assert(blockIds.length === Math.ceil(r.numComputed / BLOCK), () => `${r.id} holds ${blockIds.length} blocks for ${r.numComputed} tokens`);
      for (const block of blockIds) holders.set(block, [...(holders.get(block) ?? []), r]);
    }
    assert(!holders.has(0), () => 'the null block was handed out');
    for (let block = 0; block < NUM_BLOCKS; block++) {
      const owners = holders.get(block) ?? [];
      assert(kv.refCount(block) === owners.length, () => `block ${block}: refCount ${kv.refCount(block)}, ${owners.length} holders`);
      assert(owners.filter((r) => !r.hits.has(block)).length <= 1, () => `block ${block} shared without a prefix hit`);
    }
    assert(kv.numFreeBlocks + holders.size === NUM_BLOCKS - 1, () => `${kv.numFreeBlocks} free + ${holders.size} held != ${NUM_BLOCKS - 1}`);
    assert(Math.abs(kv.usage - holders.size / (NUM_BLOCKS - 1)) < 1e-12, () => `usage ${kv.usage}`);
  };

  for (let op = 0; op < 10_000; op++) {
    const roll = random(100);
    if (roll < 30 || live.size === 0) admit();
    else if (roll < 80) step(pick([...live.values()]));
    else if (roll < 99) {
      const r = pick([...live.values()]);
      kv.free(r.id);
      live.delete(r.id);
    } else kv.resetPrefixCache();
    check();
  }
  for (const id of live.keys()) kv.free(id);
  expect(kv.numFreeBlocks).toBe(NUM_BLOCKS - 1);
  expect(kv.resetPrefixCache()).toBe(true);
  expect(kv.numCachedBlocks).toBe(0);
  return { hitTokens: kv.stats.hitTokens, refusals, evicted: kv.stats.evictedBlocks };
}

describe('KvCacheManager under random operations', () => {
  for (const seed of [1, 2, 3]) {
    it(`keeps refCounts, sharing and content right (seed ${seed})`, () => {
      const result = run(seed, undefined);
      // The run exercised what it is meant to: hits, evictions, refused allocations.
      expect(result.hitTokens).toBeGreaterThan(0);
      expect(result.evicted).toBeGreaterThan(0);
      expect(result.refusals).toBeGreaterThan(0);
    });
    it(`stays right when hashes collide all the time (seed ${seed})`, () => {
      expect(run(seed, WEAK).hitTokens).toBeGreaterThan(0);
    });
  }
});
