export * from './errors.js';
export * from './spec.js';
export * from './config.js';
export * from './rope.js';
export * from './llama.js';
export * from './architectures.js';
export * from './checkpoint.js';
export * from './synthetic.js';
