import type { Plan } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { ATTENTION_CASES } from '../kernels/attention/attention.cases.js';
import { CudaBackend, flattenPlan } from './cuda-backend.js';
import { compileCase } from './harness/run.js';
import { NATIVE_DTYPES } from './native.js';

// What the CUDA backend decides about a plan before any device work: checkable without a GPU
// (supportsOp does not touch the device, so it runs off the prototype here).
describe('the CUDA backend and fp8 KV caches', () => {
  const c = ATTENTION_CASES.find((k) => k.name === 'paged_attention fp8 cache, prefill then decode, GQA 4, d=64')!;
  const plan = compileCase(c, 'bf16');
  const attention = plan.ops.find((op) => op.op === 'paged_attention')!;
  const supports = (p: Plan) => CudaBackend.prototype.supportsOp.call(undefined, attention, p);

  it('runs attention over fp8e4m3 caches, and nothing else in fp8', () => {
    expect(supports(plan)).toBe(true);
    const fp8Activations = { ...plan, values: plan.values.map((v) => (v.name === 'q' ? { ...v, dtype: 'fp8e4m3' as const } : v)) };
    expect(supports(fp8Activations)).toBe(false);
  });

  it('hands the native executor the caches as fp8 and the layer scales as attributes', () => {
    const flat = flattenPlan(plan, c.loadDims ?? {});
    const op = flat.ops.find((o) => o.kind === 'paged_attention')!;
    expect(op.attrs).toMatchObject({ kScale: 1 / 480, vScale: 0.05 });
    const caches = flat.values.filter((v) => v.name === 'k_cache' || v.name === 'v_cache');
    expect(caches.map((v) => v.dtype)).toEqual([NATIVE_DTYPES.fp8e4m3, NATIVE_DTYPES.fp8e4m3]);
  });
});
