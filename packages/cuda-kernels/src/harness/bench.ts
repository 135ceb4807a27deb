import { type Backend, InMemoryWeights, type SyntheticFill, type WeightSource, fmix32 } from '@ignis/tensor';
import { CudaExecutable } from '../cuda-backend.js';
import type { FloatDType, OpCase } from './case.js';
import { compileCase, stepInputs } from './run.js';

/** The ceilings we measure against (../shared/GPU.md: HBM copy read+write, dense bf16 GEMM). */
export interface Ceilings {
  readonly bandwidthGBs: number;
  readonly bf16Tflops: number;
  readonly f32Tflops: number;
  /** Dense e4m3 GEMM (PyTorch's _scaled_mm at 8192^3, per-tensor scales, measured 2026-12-04 on an H200). */
  readonly fp8Tflops: number;
}

/** Ceilings measured on our GPUs, by device name; an unknown GPU gets H100 figures (say so in reports). */
export function ceilingsFor(deviceName: string): Ceilings & { known: boolean } {
  if (/H200/i.test(deviceName)) return { bandwidthGBs: 4200, bf16Tflops: 798, f32Tflops: 67, fp8Tflops: 1444, known: true };
  if (/H100/i.test(deviceName)) return { bandwidthGBs: 3000, bf16Tflops: 798, f32Tflops: 67, fp8Tflops: 1444, known: true };
  return { bandwidthGBs: 3000, bf16Tflops: 798, f32Tflops: 67, fp8Tflops: 1444, known: false };
}

/** One benchmark result: the median over many runs, and achieved rates against the ceilings. */
export interface BenchResult {
  readonly kernel: string;
  readonly name: string;
  readonly dtype: FloatDType;
  readonly medianUs: number;
  readonly gbs: number;
  readonly tflops: number;
  /** Time at the ceiling over measured time: the larger of the bandwidth and FLOP bounds. */
  readonly fractionOfCeiling: number;
  readonly bound: 'memory' | 'compute';
}

/** Synthetic weights (filled on the device): benchmark shapes never pass through JavaScript. */
class BenchWeights implements WeightSource {
  constructor(private readonly shapes: ReadonlyMap<string, { dtype: FloatDType; shape: readonly number[] }>) {}
  info(name: string) {
    return this.shapes.get(name);
  }
  read(): never {
    throw new Error('benchmark weights live on the device only');
  }
  synthetic(name: string): SyntheticFill {
    const vector = (this.shapes.get(name)?.shape.length ?? 0) === 1; // norms and biases: around 1
    let seed = 0x1234;
    for (const ch of name) seed = fmix32((seed ^ ch.charCodeAt(0)) >>> 0);
    return vector ? { seed, scale: 0.5, offset: 1 } : { seed, scale: 0.05, offset: 0 };
  }
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Times the last step of a benchmark case on the CUDA backend. */
export async function benchCase(c: OpCase, dtype: FloatDType, backend: Backend, ceilings: Ceilings, iterations = 50): Promise<BenchResult> {
  if (!c.cost) throw new Error(`${c.name} has no cost: not a benchmark case`);
  const plan = compileCase(c, dtype);
  const shapes = new Map<string, { dtype: FloatDType; shape: readonly number[] }>();
  for (const v of plan.values) if (v.kind === 'weight') shapes.set(v.name, { dtype, shape: v.shape as number[] });
  const executable = await backend.load(plan, shapes.size > 0 ? new BenchWeights(shapes) : InMemoryWeights.of({}), { loadDims: c.loadDims ?? {} });
  try {
    if (!(executable instanceof CudaExecutable)) throw new Error('benchmarks time CUDA executables');
    const steps = c.steps(Math.random);
    for (const step of steps.slice(0, -1)) await executable.run(stepInputs(plan, step));
    const ms = await executable.time(stepInputs(plan, steps.at(-1)!), iterations);
    const seconds = median(ms) / 1000;
    const { bytes, flops } = c.cost(dtype);
    const memoryFloor = bytes / (ceilings.bandwidthGBs * 1e9);
    const tflops = c.cost(dtype).fp8 ? ceilings.fp8Tflops : dtype === 'bf16' ? ceilings.bf16Tflops : ceilings.f32Tflops;
    const computeFloor = flops / (tflops * 1e12);
    return {
      kernel: c.kernel,
      name: c.name,
      dtype,
      medianUs: seconds * 1e6,
      gbs: bytes / seconds / 1e9,
      tflops: flops / seconds / 1e12,
      fractionOfCeiling: Math.max(memoryFloor, computeFloor) / seconds,
      bound: computeFloor > memoryFloor ? 'compute' : 'memory',
    };
  } finally {
    executable.dispose();
  }
}
