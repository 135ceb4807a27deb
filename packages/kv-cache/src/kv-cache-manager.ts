import { type BlockHashFn, hashBlockTokens, hashString } from './block-hash.js';
import { type BlockKey, keyMatches } from './block-key.js';
import { BlockPool } from './block-pool.js';

/** What the cache needs to know of a request. */
export interface CacheRequest {
  readonly id: string;
  /** Prompt and generated tokens so far. */
  readonly tokenIds: readonly number[];
  /** Requests with different salts never share cached blocks. */
  readonly cacheSalt?: string;
  /** The LoRA adapter, if any: KV computed under one adapter is no good for another. */
  readonly adapterId?: string;
}

export interface KvCacheConfig {
  /** Blocks in the pool, the null block 0 included. */
  readonly numBlocks: number;
  /** Tokens per block. */
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  /** Seeds the root of every hash chain (default 0, so hashes are the same from run to run). */
  readonly hashSeed?: number;
  /** The chain hash (default {@link hashBlockTokens}). Tests pass a weak one to force collisions. */
  readonly hashBlock?: BlockHashFn;
}

/** Counters since construction. */
export interface KvCacheStats {
  /** Tokens of the requests admitted (first allocation) while prefix caching is on. */
  readonly queryTokens: number;
  /** Of those, tokens taken from the prefix cache. */
  readonly hitTokens: number;
  /** Cached blocks whose content was dropped to reuse them (or by `resetPrefixCache`). */
  readonly evictedBlocks: number;
}

/** The blocks a request holds, in order, and the keys of its full blocks computed so far. */
interface RequestBlocks {
  readonly blockIds: number[];
  /**
   * keys[i] identifies the content of block i: its own key once cached, or the key of an
   * identical block already cached (then block i stays uncached), so the chain goes on from it.
   */
  readonly keys: BlockKey[];
  readonly extra: ExtraKeys;
}

interface ExtraKeys {
  readonly key: string;
  readonly hash: number;
}

/**
 * The KV cache as the scheduler sees it: per-request block lists over a shared block pool,
 * and prefix caching over chained hashes of full blocks, `h_i = H(h_{i-1}, tokens_i, extra)`.
 * Block ids are opaque to callers (0 is the null block, never handed out).
 */
export class KvCacheManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  private readonly pool: BlockPool;
  private readonly requests = new Map<string, RequestBlocks>();
  private readonly hashBlock: BlockHashFn;
  private readonly rootHash: number;
  private nextSerial = 1;
  private queryTokens = 0;
  private hitTokens = 0;

  constructor(config: KvCacheConfig) {
    const { numBlocks, blockSize, enablePrefixCaching, hashSeed = 0 } = config;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
    if (!Number.isSafeInteger(hashSeed) || hashSeed < 0) throw new RangeError(`hashSeed must be a non-negative safe integer, got ${hashSeed}`);
    this.pool = new BlockPool(numBlocks);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.enablePrefixCaching = enablePrefixCaching;
    this.hashBlock = config.hashBlock ?? hashBlockTokens;
    this.rootHash = hashBlockTokens(hashSeed, [], 0, 0, 0);
  }

  /**
   * For a request not yet holding blocks: its longest cached prefix of full blocks, every block
   * confirmed (tokens and prefix), never covering the last token (one must be computed to get
   * logits). Changes nothing: `allocateSlots` takes the blocks and counts the query.
   */
  getComputedBlocks(request: CacheRequest): { blocks: readonly number[]; numTokens: number } {
    if (!this.enablePrefixCaching) return { blocks: [], numTokens: 0 };
    const { tokenIds } = request;
    const extra = extraKeys(request);
    const maxBlocks = Math.floor((tokenIds.length - 1) / this.blockSize);
    const blocks: number[] = [];
    let parent: BlockKey | undefined;
    for (let i = 0; i < maxBlocks; i++) {
      const start = i * this.blockSize;
      const hash = this.hashBlock(parent?.hash ?? this.rootHash, tokenIds, start, start + this.blockSize, extra.hash);
      const block = this.pool.lookup(hash);
      const key = block === undefined ? undefined : this.pool.keyOf(block);
      if (block === undefined || key === undefined || !keyMatches(key, parent, tokenIds, start, extra.key)) break;
      blocks.push(block);
      parent = key;
    }
    return { blocks, numTokens: blocks.length * this.blockSize };
  }

  /**
   * Makes the request able to hold `numComputedTokens + numNewTokens` tokens. A new request first
   * takes the `computed` blocks that `getComputedBlocks` just returned (call nothing else in
   * between: an allocation could evict them). Returns the newly allocated blocks, or null when the
   * pool cannot satisfy it; then nothing changed. A new request's admission counts as a prefix
   * query in `stats` here, not in `getComputedBlocks`: a request that waits for room is looked up
   * again every step, and counting each look-up would skew the hit rate.
   */
  allocateSlots(request: CacheRequest, numComputedTokens: number, numNewTokens: number, computed?: { blocks: readonly number[] }): readonly number[] | null {
    for (const [name, value] of [['numComputedTokens', numComputedTokens], ['numNewTokens', numNewTokens]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
    }
    const state = this.requests.get(request.id);
    const hits = computed?.blocks ?? [];
    if (state !== undefined && hits.length > 0) throw new Error(`request ${request.id} already holds blocks; computed blocks are for new requests`);
    if (hits.length * this.blockSize > numComputedTokens) {
      throw new Error(`request ${request.id}: ${hits.length} computed blocks hold more than its ${numComputedTokens} computed tokens`);
    }
    const hitKeys = hits.map((block) => {
      const key = this.pool.keyOf(block);
      if (key === undefined) throw new Error(`computed block ${block} is no longer cached: call allocateSlots right after getComputedBlocks`);
      return key;
    });
    const held = (state?.blockIds.length ?? 0) + hits.length;
    const needed = Math.max(0, Math.ceil((numComputedTokens + numNewTokens) / this.blockSize) - held);
    // Reviving a free cached block takes it off the free queue, leaving less to allocate from.
    let revived = 0;
    for (const block of hits) if (this.pool.refCount(block) === 0) revived++;
    if (needed > this.pool.numFree - revived) return null;

    const blocks = state ?? { blockIds: [], keys: [], extra: extraKeys(request) };
    if (state === undefined) {
      this.requests.set(request.id, blocks);
      if (this.enablePrefixCaching) {
        this.queryTokens += request.tokenIds.length;
        this.hitTokens += hits.length * this.blockSize;
      }
    }
    // Loops, not push(...xs): a long context can hold more blocks than a call takes arguments.
    hits.forEach((block, i) => {
      this.pool.acquire(block);
      blocks.blockIds.push(block);
      blocks.keys.push(hitKeys[i]!);
    });
    const allocated = this.pool.allocate(needed)!;
    for (const block of allocated) blocks.blockIds.push(block);
    return allocated;
  }

  /**
   * After a step computed the request's tokens up to `numComputedTokens`: files its blocks that
   * are now full in the prefix cache, so later requests can reuse them. A block whose content is
   * already cached elsewhere (two requests computed the same prefix in one step) stays uncached.
   */
  cacheBlocks(request: CacheRequest, numComputedTokens: number): void {
    if (!this.enablePrefixCaching) return;
    const state = this.requests.get(request.id);
    if (state === undefined) throw new Error(`request ${request.id} holds no blocks`);
    const { tokenIds } = request;
    if (numComputedTokens > tokenIds.length) throw new Error(`request ${request.id}: ${numComputedTokens} computed tokens, but only ${tokenIds.length} tokens`);
    const numFull = Math.min(Math.floor(numComputedTokens / this.blockSize), state.blockIds.length);
    for (let i = state.keys.length; i < numFull; i++) {
      const start = i * this.blockSize;
      const parent = state.keys[i - 1];
      const hash = this.hashBlock(parent?.hash ?? this.rootHash, tokenIds, start, start + this.blockSize, state.extra.hash);
      const existing = this.pool.lookup(hash);
      const existingKey = existing === undefined ? undefined : this.pool.keyOf(existing);
      if (existingKey !== undefined && keyMatches(existingKey, parent, tokenIds, start, state.extra.key)) {
        state.keys.push(existingKey);
        continue;
      }
      const key: BlockKey = {
        hash,
        tokens: tokenIds.slice(start, start + this.blockSize),
        parent: parent?.serial,
        extraKey: state.extra.key,
        serial: this.nextSerial++,
      };
      // On a true hash collision the slot is taken: the block stays uncached, and the key still
      // names its content so its children chain from the right prefix.
      this.pool.register(state.blockIds[i]!, key);
      state.keys.push(key);
    }
  }

  /** Releases every block the request holds, tail first, so its tail is evicted before its head. Unknown id: no-op. */
  free(requestId: string): void {
    const state = this.requests.get(requestId);
    if (state === undefined) return;
    for (let i = state.blockIds.length - 1; i >= 0; i--) this.pool.release(state.blockIds[i]!);
    this.requests.delete(requestId);
  }

  /** The request's block ids, in order: position p lives in blockIds[floor(p / blockSize)]. A live view; empty for an unknown id. */
  blockIds(requestId: string): readonly number[] {
    return this.requests.get(requestId)?.blockIds ?? [];
  }

  /** How many requests hold `block` (for tests and metrics). */
  refCount(block: number): number {
    return this.pool.refCount(block);
  }

  /** Blocks held by requests over usable blocks (numBlocks - 1), in [0, 1]. */
  get usage(): number {
    const usable = this.numBlocks - 1;
    return (usable - this.pool.numFree) / usable;
  }

  /** Blocks allocatable now, cached-but-free ones included. */
  get numFreeBlocks(): number {
    return this.pool.numFree;
  }

  /** Blocks in the prefix cache, held or free. */
  get numCachedBlocks(): number {
    return this.pool.numCached;
  }

  /**
   * Evicts every cached block no request holds. Blocks that requests hold keep their place in
   * the cache. True when the cache is now empty (nothing cached was held).
   */
  resetPrefixCache(): boolean {
    this.pool.evictFree();
    return this.pool.numCached === 0;
  }

  get stats(): KvCacheStats {
    return { queryTokens: this.queryTokens, hitTokens: this.hitTokens, evictedBlocks: this.pool.numEvicted };
  }
}

/** Salt and adapter as one exact string (JSON, so no two pairs encode alike) and its hash. */
function extraKeys(request: CacheRequest): ExtraKeys {
  const key = JSON.stringify([request.cacheSalt ?? null, request.adapterId ?? null]);
  return { key, hash: hashString(key) };
}
