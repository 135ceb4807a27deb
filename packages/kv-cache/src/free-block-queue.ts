/**
 * The free blocks, in eviction order: an intrusive doubly linked list over typed arrays (no
 * objects per block), so taking the head, appending, and unlinking a block from the middle (a
 * prefix hit reviving a cached free block) are all O(1). Node `numBlocks` is the list's sentinel.
 */
export class FreeBlockQueue {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly linked: Uint8Array;
  private readonly sentinel: number;
  private count = 0;

  /** A queue holding `blocks`, head first. */
  constructor(numBlocks: number, blocks: Iterable<number>) {
    this.sentinel = numBlocks;
    this.next = new Int32Array(numBlocks + 1);
    this.prev = new Int32Array(numBlocks + 1);
    this.linked = new Uint8Array(numBlocks);
    this.next[this.sentinel] = this.sentinel;
    this.prev[this.sentinel] = this.sentinel;
    for (const block of blocks) this.pushTail(block);
  }

  get length(): number {
    return this.count;
  }

  has(block: number): boolean {
    return this.linked[block] === 1;
  }

  /** Removes and returns the head (the block to reuse first). The queue must not be empty. */
  popHead(): number {
    if (this.count === 0) throw new Error('popHead on an empty free block queue');
    const block = this.next[this.sentinel]!;
    this.remove(block);
    return block;
  }

  pushTail(block: number): void {
    this.insertAfter(this.prev[this.sentinel]!, block);
  }

  pushHead(block: number): void {
    this.insertAfter(this.sentinel, block);
  }

  remove(block: number): void {
    if (this.linked[block] !== 1) throw new Error(`block ${block} is not in the free block queue`);
    const before = this.prev[block]!;
    const after = this.next[block]!;
    this.next[before] = after;
    this.prev[after] = before;
    this.linked[block] = 0;
    this.count--;
  }

  /** Head to tail. The queue must not change while this runs. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let block = this.next[this.sentinel]!; block !== this.sentinel; block = this.next[block]!) yield block;
  }

  private insertAfter(before: number, block: number): void {
    if (this.linked[block] === 1) throw new Error(`block ${block} is already in the free block queue`);
    const after = this.next[before]!;
    this.next[before] = block;
    this.prev[block] = before;
    this.next[block] = after;
    this.prev[after] = block;
    this.linked[block] = 1;
    this.count++;
  }
}
