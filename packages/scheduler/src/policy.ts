import type { SchedulerRequest } from './request.js';

/** 'fcfs': by arrival. 'priority': by priority (lower first), then arrival. */
export type SchedulingPolicy = 'fcfs' | 'priority';

export type RequestOrder = (a: SchedulerRequest, b: SchedulerRequest) => number;

const byArrival: RequestOrder = (a, b) => a.arrivalTime - b.arrivalTime;
const byPriority: RequestOrder = (a, b) => a.priority - b.priority || a.arrivalTime - b.arrivalTime;

/** The order a policy serves requests in: negative when `a` goes first. */
export function policyOrder(policy: SchedulingPolicy): RequestOrder {
  switch (policy) {
    case 'fcfs':
      return byArrival;
    case 'priority':
      return byPriority;
    default:
      throw new RangeError(`unknown scheduling policy ${JSON.stringify(policy)}; use 'fcfs' or 'priority'`);
  }
}
