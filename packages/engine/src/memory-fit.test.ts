import { describe, expect, it } from 'vitest';
import { OutOfGpuMemoryError, OutOfHostMemoryError } from './errors.js';
import { checkMemoryFits } from './memory-fit.js';

const GIB = 2 ** 30;
/** 16 + 4 + 1 + 1 = 22 GiB in all. */
const NEEDS = { weights: 16 * GIB, kvCache: 4 * GIB, activations: GIB, headroom: GIB };

describe('checkMemoryFits', () => {
  it('passes what fits to the byte', () => {
    expect(() => checkMemoryFits('cuda', NEEDS, 22 * GIB)).not.toThrow();
    expect(() => checkMemoryFits('cpu', { ...NEEDS, headroom: 0 }, 21 * GIB)).not.toThrow();
  });

  it('on the GPU, refuses a byte more with every size and the free memory', () => {
    const fail = () => checkMemoryFits('cuda', NEEDS, 22 * GIB - 1);
    expect(fail).toThrow(OutOfGpuMemoryError);
    expect(fail).toThrow(
      'not enough GPU memory: the weights take 16.0 GiB, the KV cache 4.0 GiB and the activations 1.0 GiB, plus 1.0 GiB of headroom, 22.0 GiB in all, and 22.0 GiB are free',
    );
  });

  it('on the CPU, says the weights are counted as f32 and what to change', () => {
    const fail = () => checkMemoryFits('cpu', { ...NEEDS, headroom: 0 }, 8 * GIB);
    expect(fail).toThrow(OutOfHostMemoryError);
    expect(fail).toThrow(
      'not enough memory to run on the CPU: the weights take 16.0 GiB (as f32: the CPU backend computes in f32), the KV cache 4.0 GiB and the activations 1.0 GiB, 21.0 GiB in all, and 8.0 GiB are available; use a smaller model, a smaller kvCacheBytes or maxModelLen, or a GPU',
    );
  });
});
