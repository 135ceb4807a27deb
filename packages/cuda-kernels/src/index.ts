export * from './native.js';
export * from './cuda-backend.js';
export type { CaseCost, CaseStep, FloatDType, OpCase, OutputCheck, StepResults, WeightSupply } from './harness/case.js';
export { ALL_CASES } from './harness/cases.js';
export { type CaseResult, runCase } from './harness/run.js';
export { type BenchResult, type Ceilings, benchCase, ceilingsFor } from './harness/bench.js';
