import { philox4x32 } from './philox.js';

/**
 * A small, fast, seeded generator (mulberry32) of uniform numbers in [0, 1). Same seed, same
 * sequence, on every platform: sampling with a seed must be reproducible.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** MurmurHash3's 32-bit finalizer: a fast, well-mixing bijection on uint32. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Counter word 3 of a Philox draw says what the draw is for, so that no two uses share bits. */
const TOKEN_DRAW = 0;
const COMPLETION_SEED = 1;

/**
 * The uniform draw in [0, 1) for sampling step `step` of a row seeded `seed` (both uint32): the
 * top 24 bits of the first word of Philox4x32-10 with key (seed, 0) and counter (step, 0, 0, 0),
 * over 2^24. Stateless and identical on every backend (the CUDA kernel computes the same bits,
 * `uniform_bits` in kernels/sampling/sampling.cuh), so a seed gives the same tokens whatever the
 * batch or the step size.
 */
export function sampleUniform(seed: number, step: number): number {
  return (philox4x32(step, 0, 0, TOKEN_DRAW, seed, 0)[0] >>> 8) / 16777216;
}

/**
 * The uint32 row seed of completion `index` (0 for the first) of a request seeded `seed` (any
 * non-negative safe integer: both 32-bit halves count): the first word of Philox4x32-10 with key
 * (seed's low and high halves) and counter (index, 0, 0, 1). Each completion gets its own
 * stream of draws; two (seed, index) pairs share one with probability 2^-32.
 */
export function completionSeed(seed: number, index: number): number {
  return philox4x32(index, 0, 0, COMPLETION_SEED, seed >>> 0, Math.floor(seed / 4294967296) >>> 0)[0];
}

/**
 * Element `index` of a synthetic tensor: `offset + scale * u`, u uniform in [-1, 1) from a
 * stateless hash of (seed, index). The CUDA backend fills weights on the device with the same
 * bits (kernels/convert), so both backends see the same synthetic model.
 */
export function syntheticValue(seed: number, index: number, scale: number, offset: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 4294967296) >>> 0;
  const h = fmix32((seed ^ fmix32((low ^ fmix32((high + 0x9e3779b9) >>> 0)) >>> 0)) >>> 0);
  const u = Math.fround((h >>> 8) * (2 / 16777216) - 1);
  return Math.fround(Math.fround(offset) + Math.fround(scale) * u); // f32 parameters, as the kernel takes them
}
