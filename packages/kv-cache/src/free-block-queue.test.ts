import { describe, expect, it } from 'vitest';
import { FreeBlockQueue } from './free-block-queue.js';

describe('FreeBlockQueue', () => {
  it('pops from the head, appends to the tail or the head, and unlinks from the middle', () => {
    const queue = new FreeBlockQueue(8, [1, 2, 3, 4]);
    expect([...queue]).toEqual([1, 2, 3, 4]);
    queue.remove(3);
    queue.pushTail(6);
    queue.pushHead(7);
    expect([...queue]).toEqual([7, 1, 2, 4, 6]);
    expect(queue.length).toBe(5);
    expect(queue.popHead()).toBe(7);
    expect(queue.has(7)).toBe(false);
    expect(queue.has(1)).toBe(true);
    queue.remove(6);
    queue.remove(1);
    expect([...queue]).toEqual([2, 4]);
  });

  it('refuses to link a block twice, unlink a missing one, or pop an empty queue', () => {
    const queue = new FreeBlockQueue(4, [1]);
    expect(() => queue.pushTail(1)).toThrow(/already/);
    expect(() => queue.remove(2)).toThrow(/not in/);
    queue.popHead();
    expect(() => queue.popHead()).toThrow(/empty/);
  });
});
