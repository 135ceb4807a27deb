import {
  type Backend,
  type Executable,
  GraphBuilder,
  InMemoryWeights,
  DEFAULT_PASSES,
  type Plan,
  ReferenceBackend,
  type StepInputs,
  Tensor,
  compile,
  decodeToF32,
  encodeFromF32,
  relativeError,
  seededRandom,
} from '@ignis/tensor';
import type { CaseStep, FloatDType, OpCase, OutputCheck, StepResults } from './case.js';

/** The outcome of one case in one dtype. */
export interface CaseResult {
  readonly kernel: string;
  readonly name: string;
  readonly dtype: FloatDType;
  readonly checks: readonly OutputCheck[];
  readonly pass: boolean;
}

/** `values` as the activation dtype would store them, back in f32 (what both backends see). */
function roundTo(values: Float32Array, dtype: FloatDType): Float32Array {
  return dtype === 'f32' ? values : decodeToF32(encodeFromF32(values, 'bf16'), 'bf16');
}

/** Compiles a case's graph with activations in `dtype`. */
export function compileCase(c: OpCase, dtype: FloatDType): Plan {
  const b = new GraphBuilder(c.name);
  c.build(b, dtype);
  return compile(b.build(), { maxDims: c.maxDims, passes: [...(c.passes?.(dtype) ?? []), ...DEFAULT_PASSES] });
}

/** The step's inputs in the dtypes `plan` declares (bf16 as raw bits). */
export function stepInputs(plan: Plan, step: CaseStep): StepInputs {
  const inputs: StepInputs['inputs'] = {};
  for (const value of plan.values) {
    if (value.kind !== 'input') continue;
    const given = step.inputs[value.name];
    if (!given) throw new Error(`case step has no input ${value.name}`);
    (inputs as Record<string, unknown>)[value.name] =
      value.dtype === 'bf16' ? encodeFromF32(given, 'bf16') : value.dtype === 'f32' ? Float32Array.from(given) : Int32Array.from(given);
  }
  return { dims: step.dims, inputs };
}

/**
 * Loads a case on `backend`: f32 weight values rounded to `dtype` and stored as the plan's weight
 * of that name wants them (bf16, or the float dtype a weight quantized at load is read in), tensors
 * as given.
 */
export async function loadCase(c: OpCase, plan: Plan, dtype: FloatDType, backend: Backend, weights: Record<string, Float32Array | Tensor>): Promise<Executable> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(weights)) {
    if (data instanceof Tensor) {
      tensors[name] = data;
      continue;
    }
    const value = plan.values.find((v) => v.kind === 'weight' && (v.name === name || v.slices?.some((s) => s.name === name)));
    if (!value) throw new Error(`case ${c.name}: the plan has no weight ${name}`);
    const stored = value.format?.quantizeFrom ?? value.dtype;
    const shape = value.slices?.find((s) => s.name === name)?.shape ?? (value.shape as number[]);
    tensors[name] = Tensor.fromValues(stored === 'bf16' ? 'bf16' : 'f32', shape, roundTo(data, dtype));
  }
  return backend.load(plan, InMemoryWeights.of(tensors), { loadDims: c.loadDims ?? {} });
}

/** Runs every step and returns each step's outputs (copied). */
async function execute(
  c: OpCase,
  dtype: FloatDType,
  backend: Backend,
  weights: Record<string, Float32Array | Tensor>,
  steps: readonly CaseStep[],
): Promise<Record<string, Float32Array | Int32Array>[]> {
  const plan = compileCase(c, dtype);
  const executable = await loadCase(c, plan, dtype, backend, weights);
  try {
    const results = [];
    for (const step of steps) {
      const outputs = await executable.run(stepInputs(plan, step));
      results.push(Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, o.data.slice()])));
    }
    return results;
  } finally {
    executable.dispose();
  }
}

/**
 * Runs `c` on `backend` in `dtype` and on the reference backend in f32 with the same rounded
 * weights and inputs, and compares every output of every step. Fresh random data per seed.
 */
export async function runCase(c: OpCase, dtype: FloatDType, backend: Backend, seed = 1): Promise<CaseResult> {
  const random = seededRandom(seed);
  const weights = c.weights(random);
  const steps = c.steps(random);
  const rounded = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, v instanceof Tensor ? v : roundTo(v, dtype)]));
  const roundedSteps = steps.map((s) => ({
    dims: s.dims,
    inputs: Object.fromEntries(Object.entries(s.inputs).map(([k, v]) => [k, v instanceof Float32Array ? roundTo(v, dtype) : v])),
  }));
  const actual = await execute(c, dtype, backend, weights, steps);
  const expected = await execute(c, 'f32', new ReferenceBackend(), rounded, roundedSteps);
  const checks = c.check ? c.check(actual, expected, steps) : compareOutputs(c, dtype, actual, expected);
  return { kernel: c.kernel, name: c.name, dtype, checks, pass: checks.length > 0 && checks.every((k) => k.pass) };
}

/** Per output over all steps: relative L2 error for floats (NaN fails), exact-match fraction for integers. */
function compareOutputs(c: OpCase, dtype: FloatDType, actual: StepResults, expected: StepResults): OutputCheck[] {
  const checks: OutputCheck[] = [];
  for (const name of Object.keys(expected[0] ?? {})) {
    const got = actual.flatMap((o) => Array.from(o[name]!));
    const want = expected.flatMap((o) => Array.from(o[name]!));
    if (expected[0]![name] instanceof Int32Array) {
      const same = got.filter((g, i) => g === want[i]).length / Math.max(1, want.length);
      const limit = c.integerMatch ?? 1;
      checks.push({ output: name, metric: 'match', value: same, limit, pass: same >= limit });
    } else {
      const error = got.some(Number.isNaN) ? Number.NaN : relativeError(got, want);
      const limit = c.tolerance[dtype];
      checks.push({ output: name, metric: 'error', value: error, limit, pass: error <= limit });
    }
  }
  return checks;
}
