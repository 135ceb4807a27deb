export { type RequestOrder, type SchedulingPolicy, policyOrder } from './policy.js';
export type { ScheduledRequest, SchedulerRequest, StepPlan } from './request.js';
export { Scheduler, type SchedulerConfig, type SchedulerStats } from './scheduler.js';
