import type { RequestOrder } from './policy.js';
import type { SchedulerRequest } from './request.js';

/**
 * Requests kept sorted by a policy order; equal keys stay in insertion order. A sorted array:
 * the queues hold at most thousands of requests, and the scheduler reads them front to back.
 */
export class RequestQueue {
  private readonly items: SchedulerRequest[] = [];

  constructor(private readonly order: RequestOrder) {}

  get length(): number {
    return this.items.length;
  }

  /** The first in policy order. */
  peek(): SchedulerRequest | undefined {
    return this.items[0];
  }

  /** The last in policy order: the one to preempt first. */
  last(): SchedulerRequest | undefined {
    return this.items[this.items.length - 1];
  }

  at(index: number): SchedulerRequest | undefined {
    return this.items[index];
  }

  /** Inserts after every request that goes before it or ties with it. */
  insert(request: SchedulerRequest): void {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.order(this.items[mid]!, request) <= 0) low = mid + 1;
      else high = mid;
    }
    this.items.splice(low, 0, request);
  }

  shift(): SchedulerRequest | undefined {
    return this.items.shift();
  }

  pop(): SchedulerRequest | undefined {
    return this.items.pop();
  }

  /** Removes the request with this id; returns it, or undefined when it is not here. */
  remove(requestId: string): SchedulerRequest | undefined {
    const index = this.items.findIndex((r) => r.id === requestId);
    return index < 0 ? undefined : this.items.splice(index, 1)[0];
  }

  [Symbol.iterator](): IterableIterator<SchedulerRequest> {
    return this.items[Symbol.iterator]();
  }
}
