import {
  type Backend,
  GraphBuilder,
  InMemoryWeights,
  DEFAULT_PASSES,
  type Plan,
  ReferenceBackend,
  type StepInputs,
  Tensor,
  type WeightSource,
  compile,
  encodeFromF32,
  relativeError,
  seededRandom,
} from '@ignis/tensor';
import type { CaseStep, FloatDType, OpCase, OutputCheck, StepResults } from './case.js';
import { caseWeights, roundTo } from './weights.js';

/** The outcome of one case in one dtype. */
export interface CaseResult {
  readonly kernel: string;
  readonly name: string;
  readonly dtype: FloatDType;
  readonly checks: readonly OutputCheck[];
  readonly pass: boolean;
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

/** Runs every step of `plan` on `backend` and returns each step's outputs (copied). */
async function execute(
  c: OpCase,
  plan: Plan,
  backend: Backend,
  weights: WeightSource,
  steps: readonly CaseStep[],
): Promise<Record<string, Float32Array | Int32Array>[]> {
  const executable = await backend.load(plan, weights, { loadDims: c.loadDims ?? {} });
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

/** Weights in memory for a plan compiled in f32: f32 values, and tensors (quantized codes, scales) as given. */
function inMemoryF32(plan: Plan, values: Record<string, Float32Array | Tensor>): WeightSource {
  const tensors: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(values)) {
    if (data instanceof Tensor) {
      tensors[name] = data;
      continue;
    }
    const value = plan.values.find((v) => v.kind === 'weight' && v.name === name);
    if (!value) throw new Error(`the plan has no weight ${name}`);
    tensors[name] = Tensor.fromValues('f32', value.shape as number[], data);
  }
  return InMemoryWeights.of(tensors);
}

/**
 * Runs `c` on `backend` in `dtype` and on the reference backend in f32 with the same rounded
 * weights and inputs, and compares every output of every step. Fresh random data per seed.
 */
export async function runCase(c: OpCase, dtype: FloatDType, backend: Backend, seed = 1): Promise<CaseResult> {
  const random = seededRandom(seed);
  const values = c.weights(random);
  const steps = c.steps(random);
  const roundedSteps = steps.map((s) => ({
    dims: s.dims,
    inputs: Object.fromEntries(Object.entries(s.inputs).map(([k, v]) => [k, v instanceof Float32Array ? roundTo(v, dtype) : v])),
  }));
  const plan = compileCase(c, dtype);
  const weights = await caseWeights(c, plan, dtype, values);
  let actual: StepResults;
  try {
    actual = await execute(c, plan, backend, weights.device, steps);
  } finally {
    await weights.dispose();
  }
  const referencePlan = compileCase(c, 'f32');
  const expected = await execute(c, referencePlan, new ReferenceBackend(), inMemoryF32(referencePlan, weights.expected), roundedSteps);
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
