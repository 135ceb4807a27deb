import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ReferenceBackend } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { ATTENTION_CASES } from '../kernels/attention/attention.cases.js';
import { CudaBackend, probeCuda } from './cuda-backend.js';
import type { FloatDType } from './harness/case.js';
import { ALL_CASES } from './harness/cases.js';
import { runCase } from './harness/run.js';
import { loadAddon } from './native.js';

const probe = probeCuda();
const built = existsSync(fileURLToPath(new URL('../build/ignis_cuda.node', import.meta.url)));

describe('the CUDA addon', () => {
  it('says in one line whether the GPU backend can run here', () => {
    console.log(`[cuda-kernels] CUDA backend ${probe.available ? 'available' : 'not available'}: ${probe.reason}`);
    expect(probe.reason.length).toBeGreaterThan(0);
    expect(probe.reason).not.toContain('\n');
  });

  it.runIf(built)('loads from the local build wherever it was built, with or without a GPU', () => {
    const { addon, source, problems } = loadAddon();
    expect(problems).toEqual([]);
    expect(source).toMatch(/ignis_cuda\.node$/);
    const info = addon!.deviceInfo();
    expect(info.buildArchs).toContain('90a');
    if (!info.available) expect(info.reason).toMatch(/GPU|device|driver/i);
  });

  it.runIf(!probe.available)('refuses to construct a CUDA backend, naming the cause', () => {
    expect(() => new CudaBackend()).toThrow(/the CUDA backend is not available: /);
  });
});

// Without a GPU, CI still builds the attention cases small enough for the reference backend (at
// most 8 blocks per sequence) and runs them on it, on both sides of the harness's comparison: a
// case that breaks the op contract (the fp8 caches' attributes, say) fails here, not on the GPU.
describe('attention cases on the reference backend', () => {
  for (const c of ATTENTION_CASES.filter((k) => (k.maxDims.MB ?? 0) <= 8)) {
    it(c.name, async () => {
      const result = await runCase(c, 'f32', new ReferenceBackend(), 7);
      expect(result.checks.filter((k) => !k.pass)).toEqual([]);
    });
  }
});

// Every kernel's cases against the reference backend; they need a GPU, so CI (which has none)
// skips them and the GPU machine runs them (also through dist/gpu-check.js, without vitest).
describe.skipIf(!probe.available)('kernels against the reference backend (GPU)', () => {
  const backend = probe.available ? new CudaBackend() : undefined;
  for (const c of ALL_CASES.filter((k) => !k.benchOnly)) {
    for (const dtype of c.dtypes ?? (['f32', 'bf16'] as FloatDType[])) {
      it(`${c.kernel}: ${c.name} (${dtype})`, async () => {
        const result = await runCase(c, dtype, backend!, 7);
        expect(result.checks.filter((k) => !k.pass)).toEqual([]);
      });
    }
  }
});
