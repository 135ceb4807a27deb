import { describe, expect, it } from 'vitest';
import type { BlockHashFn } from './block-hash.js';
import { type CacheRequest, type KvCacheConfig, KvCacheManager } from './kv-cache-manager.js';

const BLOCK = 4;

function cache(numBlocks: number, options: Partial<KvCacheConfig> = {}): KvCacheManager {
  return new KvCacheManager({ numBlocks, blockSize: BLOCK, enablePrefixCaching: true, ...options });
}

function req(id: string, tokenIds: number[], extra: Partial<CacheRequest> = {}): CacheRequest {
  return { id, tokenIds, ...extra };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Admits `request` as the scheduler does and computes all its tokens; returns its prefix hit. */
function prefill(kv: KvCacheManager, request: CacheRequest): number {
  const computed = kv.getComputedBlocks(request);
  const blocks = kv.allocateSlots(request, computed.numTokens, request.tokenIds.length - computed.numTokens, computed);
  if (blocks === null) throw new Error(`no room for ${request.id}`);
  kv.cacheBlocks(request, request.tokenIds.length);
  return computed.numTokens;
}

describe('KvCacheManager: allocation', () => {
  it('allocates blocks as tokens grow and returns only the new ones', () => {
    const kv = cache(10);
    const a = req('a', range(0, 5));
    expect(kv.allocateSlots(a, 0, 5)).toEqual([1, 2]);
    expect(kv.allocateSlots(a, 5, 3)).toEqual([]); // 8 tokens still fit in 2 blocks
    expect(kv.allocateSlots(a, 8, 1)).toEqual([3]);
    expect(kv.blockIds('a')).toEqual([1, 2, 3]);
    expect(kv.numFreeBlocks).toBe(6);
    for (const block of [1, 2, 3]) expect(kv.refCount(block)).toBe(1);
    kv.free('a');
    expect(kv.blockIds('a')).toEqual([]);
    expect(kv.numFreeBlocks).toBe(9);
    for (const block of [1, 2, 3]) expect(kv.refCount(block)).toBe(0);
    kv.free('a'); // unknown id: no-op
    expect(kv.numFreeBlocks).toBe(9);
  });

  it('never hands out the null block 0, and refuses once the pool is exhausted', () => {
    const kv = cache(6);
    const held = [0, 1, 2, 3, 4].flatMap((i) => kv.allocateSlots(req(`r${i}`, [i]), 0, 1) ?? []);
    expect(held.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(kv.allocateSlots(req('late', [9]), 0, 1)).toBeNull();
    expect(kv.usage).toBe(1);
  });

  it('validates its arguments', () => {
    expect(() => cache(1)).toThrow(/at least 2/);
    expect(() => new KvCacheManager({ numBlocks: 4, blockSize: 0, enablePrefixCaching: true })).toThrow(/blockSize/);
    const kv = cache(4);
    expect(() => kv.allocateSlots(req('a', [1]), 0, -1)).toThrow(/numNewTokens/);
    expect(() => kv.cacheBlocks(req('nobody', [1]), 1)).toThrow(/holds no blocks/);
  });
});

describe('KvCacheManager: prefix caching', () => {
  it('reuses a shared prefix: the blocks are shared with refCount 2', () => {
    const kv = cache(20);
    const prefix = range(100, 108);
    prefill(kv, req('a', [...prefix, 1, 2, 3]));
    const b = req('b', [...prefix, 7, 7]);
    const computed = kv.getComputedBlocks(b);
    expect(computed).toEqual({ blocks: kv.blockIds('a').slice(0, 2), numTokens: 8 });
    expect(kv.allocateSlots(b, 8, 2, computed)).toHaveLength(1);
    const [first, second] = kv.blockIds('b');
    expect(kv.refCount(first!)).toBe(2);
    expect(kv.refCount(second!)).toBe(2);
    kv.free('a');
    expect(kv.refCount(first!)).toBe(1);
    kv.free('b');
    expect(kv.refCount(first!)).toBe(0);
    expect(kv.numFreeBlocks).toBe(19);
  });

  it('never covers the last token, so one is always computed', () => {
    const kv = cache(20);
    prefill(kv, req('a', range(0, 8)));
    expect(kv.getComputedBlocks(req('b', range(0, 8))).numTokens).toBe(4);
    expect(kv.getComputedBlocks(req('c', range(0, 9))).numTokens).toBe(8);
    expect(kv.getComputedBlocks(req('d', range(0, 3))).numTokens).toBe(0);
  });

  it('caches only full, computed blocks', () => {
    const kv = cache(20);
    const a = req('a', range(0, 10));
    kv.allocateSlots(a, 0, 10);
    kv.cacheBlocks(a, 6); // a chunk: one full block computed so far
    expect(kv.numCachedBlocks).toBe(1);
    kv.cacheBlocks(a, 10);
    expect(kv.numCachedBlocks).toBe(2);
  });

  it('keeps freed blocks cached and evicts the tails of requests first (LRU)', () => {
    const kv = cache(9); // 8 usable blocks
    prefill(kv, req('a', range(0, 12))); // blocks 1, 2, 3, all full and cached
    kv.free('a'); // free queue: 4..8 (never used), then 3, 2, 1 (tail first)
    expect(kv.numCachedBlocks).toBe(3);
    expect(kv.allocateSlots(req('other', range(50, 74)), 0, 24)).toEqual([4, 5, 6, 7, 8, 3]);
    expect(kv.stats.evictedBlocks).toBe(1);
    kv.free('other');
    const again = req('again', range(0, 13));
    expect(kv.getComputedBlocks(again)).toEqual({ blocks: [1, 2], numTokens: 8 });
  });

  it('reuses the least recently used cached block last', () => {
    const kv = cache(5); // 4 usable
    prefill(kv, req('a', range(0, 4))); // block 1
    prefill(kv, req('b', range(10, 14))); // block 2
    kv.free('a');
    kv.free('b'); // free: 3, 4, then 1 (a), 2 (b)
    prefill(kv, req('a2', [...range(0, 4), 99])); // revives block 1; it goes to the tail when freed again
    kv.free('a2');
    expect(kv.allocateSlots(req('x', range(20, 32)), 0, 12)).toEqual([3, 4, 2]); // b's block, not a's
    expect(kv.getComputedBlocks(req('a3', [...range(0, 4), 1])).numTokens).toBe(4);
  });

  it('chains through a block that another request cached first in the same step', () => {
    const kv = cache(20);
    const a = req('a', [...range(0, 8), 1]);
    const b = req('b', [...range(0, 8), ...range(30, 34), 2]);
    kv.allocateSlots(a, 0, 9); // both prefill the shared 8 tokens without a hit
    kv.allocateSlots(b, 0, 13);
    kv.cacheBlocks(a, 9);
    kv.cacheBlocks(b, 13); // b's first two blocks duplicate a's: only its third is cached
    expect(kv.numCachedBlocks).toBe(3);
    const c = req('c', [...b.tokenIds, 5]);
    expect(kv.getComputedBlocks(c).blocks).toEqual([...kv.blockIds('a').slice(0, 2), kv.blockIds('b')[2]]);
  });

  it('never returns wrong blocks on a hash collision: tokens are confirmed', () => {
    const everythingCollides: BlockHashFn = () => 0;
    const kv = cache(20, { hashBlock: everythingCollides });
    prefill(kv, req('a', [...range(0, 8), 1]));
    expect(kv.numCachedBlocks).toBe(1); // a's second block collides with its first: left uncached
    expect(kv.getComputedBlocks(req('b', [...range(50, 58), 1])).numTokens).toBe(0);
    expect(kv.getComputedBlocks(req('c', [...range(0, 8), 1])).numTokens).toBe(4);
  });

  it('never returns a block computed after a different prefix, even when its tokens match', () => {
    // A hash that ignores the parent: [1,2,3,4] then [9,9,9,9] files the second block under the
    // same hash as any other prefix followed by [9,9,9,9].
    const ignoresParent: BlockHashFn = (_parent, tokens, start, end) => tokens.slice(start, end).reduce((h, t) => h * 31 + t, 7);
    const kv = cache(20, { hashBlock: ignoresParent });
    prefill(kv, req('a', [1, 2, 3, 4, 9, 9, 9, 9, 0]));
    prefill(kv, req('b', [5, 6, 7, 8, 0]));
    const c = req('c', [5, 6, 7, 8, 9, 9, 9, 9, 0]);
    expect(kv.getComputedBlocks(c)).toEqual({ blocks: kv.blockIds('b').slice(0, 1), numTokens: 4 });
  });

  it('never shares blocks between different cache salts or adapters', () => {
    const kv = cache(40);
    const tokens = [...range(0, 8), 1];
    prefill(kv, req('plain', tokens));
    prefill(kv, req('salted', tokens, { cacheSalt: 'x' }));
    expect(kv.getComputedBlocks(req('y', tokens, { cacheSalt: 'y' })).numTokens).toBe(0);
    expect(kv.getComputedBlocks(req('lora', tokens, { adapterId: 'x' })).numTokens).toBe(0); // a salt "x" is not adapter "x"
    expect(kv.getComputedBlocks(req('x2', tokens, { cacheSalt: 'x' })).blocks).toEqual(kv.blockIds('salted').slice(0, 2));
    expect(kv.getComputedBlocks(req('plain2', tokens)).blocks).toEqual(kv.blockIds('plain').slice(0, 2));
  });

  it('with prefix caching off, finds nothing and caches nothing', () => {
    const kv = cache(20, { enablePrefixCaching: false });
    prefill(kv, req('a', range(0, 9)));
    expect(kv.numCachedBlocks).toBe(0);
    expect(kv.getComputedBlocks(req('b', range(0, 9)))).toEqual({ blocks: [], numTokens: 0 });
    kv.free('a');
    expect(kv.numFreeBlocks).toBe(19);
  });
});

describe('KvCacheManager: a refused allocation changes nothing', () => {
  it('leaves computed blocks cached, free, and unreferenced', () => {
    const kv = cache(7); // 6 usable
    prefill(kv, req('a', range(0, 9))); // 3 blocks, 2 cached
    kv.free('a');
    kv.allocateSlots(req('hog', [1]), 0, 1); // takes the never-used head block
    const b = req('b', range(0, 30)); // 8 blocks needed, 2 of them hits: more than the pool has
    const computed = kv.getComputedBlocks(b);
    expect(computed.numTokens).toBe(8);
    const before = { free: kv.numFreeBlocks, cached: kv.numCachedBlocks, evicted: kv.stats.evictedBlocks };
    expect(kv.allocateSlots(b, 8, 22, computed)).toBeNull();
    expect({ free: kv.numFreeBlocks, cached: kv.numCachedBlocks, evicted: kv.stats.evictedBlocks }).toEqual(before);
    expect(kv.blockIds('b')).toEqual([]);
    for (const block of computed.blocks) expect(kv.refCount(block)).toBe(0);
    expect(kv.getComputedBlocks(req('c', range(0, 9))).blocks).toEqual(computed.blocks);
  });

  it('counts revived blocks against the free ones', () => {
    const kv = cache(5); // 4 usable
    prefill(kv, req('a', range(0, 9))); // blocks 1, 2 cached, 3 not
    kv.free('a'); // free: 3 (uncached, head), 4, 2, 1
    const b = req('b', range(0, 17)); // 2 hits + 3 new = 5 > 4
    const computed = kv.getComputedBlocks(b);
    expect(kv.allocateSlots(b, 8, 9, computed)).toBeNull();
    expect(kv.numFreeBlocks).toBe(4);
    const c = req('c', range(0, 13)); // 2 hits + 2 new = 4
    const hit = kv.getComputedBlocks(c);
    expect(kv.allocateSlots(c, 8, 5, hit)).toEqual([3, 4]);
    expect(kv.numFreeBlocks).toBe(0);
  });

  it('refuses stale or misplaced computed blocks', () => {
    const kv = cache(6);
    prefill(kv, req('a', range(0, 9)));
    kv.free('a');
    const b = req('b', range(0, 9));
    const computed = kv.getComputedBlocks(b);
    kv.resetPrefixCache(); // something evicted them in between
    expect(() => kv.allocateSlots(b, 8, 1, computed)).toThrow(/no longer cached/);
    expect(kv.numFreeBlocks).toBe(5);
    const c = req('c', [1, 2]);
    kv.allocateSlots(c, 0, 2);
    expect(() => kv.allocateSlots(c, 2, 1, { blocks: [1] })).toThrow(/already holds blocks/);
    expect(() => kv.allocateSlots(req('d', range(0, 9)), 0, 9, { blocks: [1] })).toThrow(/more than/);
  });
});

describe('KvCacheManager: usage, stats, reset', () => {
  it('reports usage over the usable blocks and counts queries, hits and evictions', () => {
    const kv = cache(11); // 10 usable
    prefill(kv, req('a', range(0, 16))); // 4 blocks
    expect(kv.usage).toBeCloseTo(0.4);
    prefill(kv, req('b', [...range(0, 12), 7])); // 3 hits + 1 new block
    expect(kv.usage).toBeCloseTo(0.5);
    expect(kv.stats).toEqual({ queryTokens: 16 + 13, hitTokens: 12, evictedBlocks: 0 });
    // Look-ups and refused admissions are not queries: a waiting request is looked up every step.
    const waiting = req('waiting', range(0, 100));
    expect(kv.allocateSlots(waiting, 16, 84, kv.getComputedBlocks(waiting))).toBeNull();
    expect(kv.stats.queryTokens).toBe(29);
    kv.free('a');
    kv.free('b');
    expect(kv.usage).toBe(0);
    expect(kv.allocateSlots(req('big', range(100, 140)), 0, 40)).toHaveLength(10);
    expect(kv.stats.evictedBlocks).toBe(4); // every cached block was reused
    expect(kv.numCachedBlocks).toBe(0);
  });

  it('resetPrefixCache evicts what no one holds; true once nothing is cached', () => {
    const kv = cache(20);
    prefill(kv, req('a', range(0, 9)));
    prefill(kv, req('b', range(20, 29)));
    kv.free('a');
    expect(kv.numCachedBlocks).toBe(4);
    expect(kv.resetPrefixCache()).toBe(false); // b still holds its cached blocks
    expect(kv.numCachedBlocks).toBe(2);
    expect(kv.getComputedBlocks(req('a2', range(0, 9))).numTokens).toBe(0);
    expect(kv.getComputedBlocks(req('b2', range(20, 29))).numTokens).toBe(8);
    kv.free('b');
    expect(kv.resetPrefixCache()).toBe(true);
    expect(kv.numCachedBlocks).toBe(0);
    expect(kv.numFreeBlocks).toBe(19);
    expect(kv.stats.evictedBlocks).toBe(4);
  });
});
