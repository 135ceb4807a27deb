import { describe, expect, it } from 'vitest';
import { AsyncQueue } from './async-queue.js';

describe('AsyncQueue', () => {
  it('delivers values pushed before and after the consumer waits, then ends', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const v of q) seen.push(v);
    })();
    q.push(2);
    await Promise.resolve();
    q.push(3);
    q.end();
    q.push(4); // after end: dropped
    await consumer;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('rejects the consumer with the failure', async () => {
    const q = new AsyncQueue<number>();
    const consumer = (async () => {
      for await (const _ of q) void _;
    })();
    q.fail(new Error('boom'));
    await expect(consumer).rejects.toThrow('boom');
  });
});
