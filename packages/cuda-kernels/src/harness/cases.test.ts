import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Backend, ReferenceBackend, type StepInputs, Tensor, type WeightSource, decodeToF32 } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import type { OpCase } from './case.js';
import { ALL_CASES } from './cases.js';
import { compileCase, runCase } from './run.js';

const KERNELS_DIR = fileURLToPath(new URL('../../kernels', import.meta.url));
/** Folders of shared headers, not kernels. */
const NOT_KERNELS = new Set(['common']);

const casesOf = (kernel: string): OpCase[] => ALL_CASES.filter((c) => c.kernel === kernel && !c.benchOnly);

describe('the op harness covers every kernel', () => {
  const folders = readdirSync(KERNELS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory() && !NOT_KERNELS.has(d.name));

  it.each(folders.map((d) => d.name))('kernels/%s has a cases file whose cases the harness runs', (kernel) => {
    expect(readdirSync(`${KERNELS_DIR}/${kernel}`)).toContain(`${kernel}.cases.ts`);
    expect(casesOf(kernel).length).toBeGreaterThan(0);
  });

  it('every case names a kernel folder', () => {
    const names = new Set(folders.map((d) => d.name));
    expect(ALL_CASES.filter((c) => !names.has(c.kernel)).map((c) => c.name)).toEqual([]);
  });
});

/** A backend that runs `inner` with each step's inputs, or its weights, changed: a kernel with a bug. */
function mutated(inner: Backend, change: { step?: (step: StepInputs) => StepInputs; weights?: (source: WeightSource) => WeightSource }): Backend {
  return {
    name: `mutated ${inner.name}`,
    supportsOp: (op, plan) => inner.supportsOp(op, plan),
    load: async (plan, weights, options) => {
      const executable = await inner.load(plan, change.weights?.(weights) ?? weights, options);
      return { run: (step, outputs) => executable.run(change.step?.(step) ?? step, outputs), dispose: () => executable.dispose() };
    },
  };
}

/** The step with its int32 input `name` mapped element by element. */
function mapInput(step: StepInputs, name: string, f: (value: number, index: number) => number): StepInputs {
  return { ...step, inputs: { ...step.inputs, [name]: Int32Array.from(step.inputs[name] as Int32Array, f) } };
}

// The harness runs these cases on the GPU; here the reference backend stands in for the device,
// which checks the cases themselves: they pass for a correct kernel and fail for wrong ones.
describe('kv_write cases (on the reference backend)', () => {
  const reference = new ReferenceBackend();
  const passes = async (c: OpCase, backend: Backend): Promise<boolean> => (await runCase(c, 'f32', backend, 7)).pass;

  it.each(casesOf('kv_write').map((c) => [c.name, c] as const))('%s passes for a correct write', async (_, c) => {
    expect(await passes(c, reference)).toBe(true);
  });

  it.each(casesOf('kv_write').map((c) => [c.name, c] as const))('%s fails for wrong writes', async (_, c) => {
    const blockSize = compileCase(c, 'f32').values.find((v) => v.name === 'k_cache')!.shape[1] as number;
    const wrong: Record<string, (step: StepInputs) => StepInputs> = {
      'reversed offsets inside each block': (s) => mapInput(s, 'slots', (slot) => slot - (slot % blockSize) + (blockSize - 1 - (slot % blockSize))),
      'one slot further': (s) => mapInput(s, 'slots', (slot) => slot + 1),
      'the last row of a step lost (written to the null block)': (s) => mapInput(s, 'slots', (slot, i, n = (s.inputs.slots as Int32Array).length) => (i === n - 1 ? 0 : slot)),
      'k written where v goes and v where k goes': (s) => ({ ...s, inputs: { ...s.inputs, k: s.inputs.v!, v: s.inputs.k! } }),
    };
    for (const [bug, step] of Object.entries(wrong)) expect(await passes(c, mutated(reference, { step })), bug).toBe(false);
  });
});

describe('convert cases (on the reference backend)', () => {
  const reference = new ReferenceBackend();
  // Loaders with a bug: each maps the values a weight should have to those it ends up with.
  const BUGS: Record<string, (values: Float32Array) => Float32Array> = {
    'truncates to bf16 (drops the low 16 bits) instead of rounding': (values) => {
      const bits = new Uint32Array(Float32Array.from(values).buffer);
      for (let i = 0; i < bits.length; i++) bits[i] = bits[i]! & 0xffff0000;
      return new Float32Array(bits.buffer);
    },
    'loads every element one place early': (values) => Float32Array.from(values, (_, i) => values[(i + 1) % values.length]!),
  };
  const loading = (bug: (values: Float32Array) => Float32Array) => (source: WeightSource): WeightSource => ({
    info: (name) => source.info(name),
    read: async (name) => {
      const tensor = await source.read(name);
      return Tensor.fromValues('f32', tensor.shape, bug(decodeToF32(tensor.data, tensor.dtype)));
    },
  });

  it.each(casesOf('convert').map((c) => [c.name, c] as const))('%s passes for a correct conversion and fails for wrong ones', async (_, c) => {
    expect((await runCase(c, 'f32', reference, 7)).pass).toBe(true);
    const supply = c.supply?.['table'];
    for (const [name, bug] of Object.entries(BUGS)) {
      if (name.startsWith('truncates') && supply && 'dtype' in supply && supply.dtype === 'bf16') continue; // no low bits to lose
      expect((await runCase(c, 'f32', mutated(reference, { weights: loading(bug) }), 7)).pass, name).toBe(false);
    }
  });
});

// The GPU run compares the CUDA kernels with the reference on these; here they run on the
// reference alone, which checks that they build and that the reference's outputs pass their checks
// (packages/tensor's tests check the reference itself at these values).
describe('cases at the ends of f32 (on the reference backend)', () => {
  const extreme = ALL_CASES.filter((c) => c.name.includes('extreme'));

  it.each(extreme.map((c) => [c.name, c] as const))('%s runs and passes its checks', async (_, c) => {
    expect((await runCase(c, 'f32', new ReferenceBackend(), 7)).checks.filter((k) => !k.pass)).toEqual([]);
  });

  it('there is one for sampling and one for penalties', () => {
    expect(extreme.map((c) => c.kernel).sort()).toEqual(['penalties', 'sampling']);
  });
});
