import { describe, expect, it } from 'vitest';
import type { BlockKey } from './block-key.js';
import { BlockPool } from './block-pool.js';

let serial = 0;
function key(hash: number): BlockKey {
  return { hash, tokens: [hash], parent: undefined, extraKey: '', serial: ++serial };
}

describe('BlockPool', () => {
  it('hands out blocks 1..n-1 with refCount 1, never the null block 0', () => {
    const pool = new BlockPool(5);
    expect(pool.allocate(4)).toEqual([1, 2, 3, 4]);
    expect(pool.allocate(1)).toBeNull();
    expect(pool.numFree).toBe(0);
    for (const block of [1, 2, 3, 4]) expect(pool.refCount(block)).toBe(1);
    expect(pool.refCount(0)).toBe(0);
  });

  it('allocates all or nothing', () => {
    const pool = new BlockPool(4);
    expect(pool.allocate(4)).toBeNull();
    expect(pool.numFree).toBe(3);
  });

  it('puts freed uncached blocks at the head and freed cached blocks at the tail', () => {
    const pool = new BlockPool(6);
    const [a, b, c, d] = pool.allocate(4)!;
    pool.register(a!, key(100));
    pool.register(b!, key(101));
    for (const block of [a!, b!, c!, d!]) pool.release(block);
    // free queue: d, c (uncached, at the head), 5 (never used), a, b (cached, least recent first)
    expect(pool.allocate(3)).toEqual([d, c, 5]);
    expect(pool.numCached).toBe(2);
    expect(pool.allocate(1)).toEqual([a]);
    expect(pool.lookup(100)).toBeUndefined();
    expect(pool.numCached).toBe(1);
    expect(pool.numEvicted).toBe(1);
  });

  it('revives a free cached block and shares a held one', () => {
    const pool = new BlockPool(4);
    const [a] = pool.allocate(1)!;
    pool.register(a!, key(7));
    pool.release(a!);
    expect(pool.numFree).toBe(3);
    pool.acquire(a!);
    pool.acquire(a!);
    expect(pool.refCount(a!)).toBe(2);
    expect(pool.numFree).toBe(2);
    pool.release(a!);
    pool.release(a!);
    expect(pool.numFree).toBe(3);
    expect(pool.lookup(7)).toBe(a);
  });

  it('keeps one block per hash, refuses to cache free blocks and to over-release', () => {
    const pool = new BlockPool(4);
    const [a, b] = pool.allocate(2)!;
    expect(pool.register(a!, key(1))).toBe(true);
    expect(pool.register(b!, key(1))).toBe(false);
    expect(pool.keyOf(b!)).toBeUndefined();
    pool.release(b!);
    expect(() => pool.register(b!, key(2))).toThrow(/free/);
    expect(() => pool.release(b!)).toThrow(/released more/);
    expect(() => pool.acquire(b!)).toThrow(/not cached/);
  });

  it('evictFree drops the keys of free blocks only', () => {
    const pool = new BlockPool(4);
    const [a, b] = pool.allocate(2)!;
    pool.register(a!, key(1));
    pool.register(b!, key(2));
    pool.release(a!);
    expect(pool.evictFree()).toBe(1);
    expect(pool.lookup(1)).toBeUndefined();
    expect(pool.lookup(2)).toBe(b);
    expect(pool.numFree).toBe(2);
  });

  it('rejects a pool without a usable block', () => {
    expect(() => new BlockPool(1)).toThrow(/at least 2/);
  });
});
