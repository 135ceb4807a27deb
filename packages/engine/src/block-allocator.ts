/**
 * KV-cache block ids for the engine's sequences. Block 0 is the null block: never handed out,
 * so that padding entries of block tables point somewhere harmless.
 */
export class BlockAllocator {
  private readonly free: number[] = [];

  constructor(readonly numBlocks: number) {
    if (!Number.isSafeInteger(numBlocks) || numBlocks < 2) throw new RangeError(`a KV cache needs at least 2 blocks, got ${numBlocks}`);
    for (let b = numBlocks - 1; b >= 1; b--) this.free.push(b);
  }

  get numFree(): number {
    return this.free.length;
  }

  /** `n` blocks, or null when fewer are free (nothing is taken then). */
  allocate(n: number): number[] | null {
    if (n > this.free.length) return null;
    return this.free.splice(this.free.length - n, n).reverse();
  }

  /** Returns blocks to the pool. */
  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) this.free.push(blocks[i]!);
  }
}
