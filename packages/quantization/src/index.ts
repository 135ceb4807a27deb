export * from './errors.js';
export * from './scheme.js';
export * from './compressed-tensors.js';
export * from './fp8-method.js';
export * from './checkpoint-weights.js';
export * from './plan.js';
export * from './kv-scales.js';
