import type { BlockKey } from './block-key.js';
import { FreeBlockQueue } from './free-block-queue.js';

/**
 * Every KV block: its reference count, its key when it is in the prefix cache, and the free
 * queue. Block 0 is the null block: never handed out, so padding in block tables points
 * somewhere harmless.
 *
 * A block with refCount 0 is on the free queue, cached or not. Freed blocks with a key go to the
 * tail (least recently used last); freed blocks without one go to the head, because reusing them
 * loses nothing. Allocation takes the head and evicts the key of a cached block it reuses.
 */
export class BlockPool {
  private readonly refCounts: Int32Array;
  private readonly keys: (BlockKey | undefined)[];
  private readonly cached = new Map<number, number>();
  private readonly free: FreeBlockQueue;
  private evicted = 0;

  constructor(readonly numBlocks: number) {
    if (!Number.isSafeInteger(numBlocks) || numBlocks < 2) throw new RangeError(`a KV cache needs at least 2 blocks (block 0 is reserved), got ${numBlocks}`);
    this.refCounts = new Int32Array(numBlocks);
    this.keys = new Array<BlockKey | undefined>(numBlocks).fill(undefined);
    this.free = new FreeBlockQueue(numBlocks, ascending(1, numBlocks));
  }

  /** Blocks allocatable now, cached-but-free ones included. */
  get numFree(): number {
    return this.free.length;
  }

  /** Blocks in the prefix cache, held or free. */
  get numCached(): number {
    return this.cached.size;
  }

  /** Cached blocks evicted so far (reused for other content, or dropped by `evictFree`). */
  get numEvicted(): number {
    return this.evicted;
  }

  refCount(block: number): number {
    return this.refCounts[block] ?? 0;
  }

  keyOf(block: number): BlockKey | undefined {
    return this.keys[block];
  }

  /** The cached block filed under `hash`, if any. Its key must still be confirmed. */
  lookup(hash: number): number | undefined {
    return this.cached.get(hash);
  }

  /** `n` blocks from the head of the free queue (refCount 1 each), or null, changing nothing, when fewer are free. */
  allocate(n: number): number[] | null {
    if (n > this.free.length) return null;
    const blocks: number[] = [];
    for (let i = 0; i < n; i++) {
      const block = this.free.popHead();
      this.evict(block);
      this.refCounts[block] = 1;
      blocks.push(block);
    }
    return blocks;
  }

  /** One more holder of a cached block; a free one is revived (taken off the free queue). */
  acquire(block: number): void {
    if (this.keys[block] === undefined) throw new Error(`block ${block} is not cached; only cached blocks are shared`);
    if (this.refCounts[block] === 0) this.free.remove(block);
    this.refCounts[block]!++;
  }

  /** One holder fewer; at zero the block goes to the free queue (tail if cached, head if not). */
  release(block: number): void {
    if (!(this.refCounts[block]! > 0)) throw new Error(`block ${block} is released more often than it was taken`);
    if (--this.refCounts[block]! > 0) return;
    if (this.keys[block] === undefined) this.free.pushHead(block);
    else this.free.pushTail(block);
  }

  /** Files a held block under `key.hash`; false (nothing changes) when that hash is taken. */
  register(block: number, key: BlockKey): boolean {
    if (this.cached.has(key.hash)) return false;
    if (this.keys[block] !== undefined) throw new Error(`block ${block} is already cached`);
    if (!(this.refCounts[block]! > 0)) throw new Error(`block ${block} is free; only held blocks are cached`);
    this.keys[block] = key;
    this.cached.set(key.hash, block);
    return true;
  }

  /** Drops the key of every cached block no one holds (they stay free); returns how many. */
  evictFree(): number {
    let count = 0;
    for (const block of this.free) {
      if (this.keys[block] === undefined) continue;
      this.evict(block);
      count++;
    }
    return count;
  }

  private evict(block: number): void {
    const key = this.keys[block];
    if (key === undefined) return;
    this.cached.delete(key.hash);
    this.keys[block] = undefined;
    this.evicted++;
  }
}

function* ascending(from: number, to: number): IterableIterator<number> {
  for (let i = from; i < to; i++) yield i;
}
