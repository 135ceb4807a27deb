import { CudaBackend, type FloatDType, benchCase, ceilingsFor, probeCuda } from '@ignis/cuda-kernels';
import type { ModelSpec } from '@ignis/models';
import { type Progress, silentProgress } from '../progress.js';
import { type KernelShapes, modelCases } from './cases.js';

/** Options of `ignis-bench kernels`. */
export interface KernelsOptions extends KernelShapes {
  readonly model: string;
  readonly dtype: FloatDType;
  readonly iterations: number;
  /** Override the measured ceilings of ../shared/GPU.md. */
  readonly bandwidthGBs?: number;
  readonly tflops?: number;
}

/** One timed kernel. */
export interface KernelRow {
  readonly layer: string;
  readonly tokens: number;
  readonly kernel: string;
  readonly name: string;
  readonly medianUs: number;
  readonly gbs: number;
  readonly tflops: number;
  /** FLOPs per byte moved (roofline x axis). */
  readonly intensity: number;
  /** Time at the ceiling over measured time: the larger of the bandwidth and FLOP floors. */
  readonly fractionOfCeiling: number;
  readonly bound: 'memory' | 'compute';
}

/** What `kernels` reports (JSON with --json or --output). */
export interface KernelsReport {
  readonly model: string;
  readonly dtype: FloatDType;
  readonly device: string | null;
  /** Why nothing ran (no GPU), or null. */
  readonly skipped: string | null;
  readonly bandwidthGBs: number;
  readonly tflops: number;
  readonly ceilingSource: string;
  readonly rows: readonly KernelRow[];
  /** Cases that failed to run, with the error. */
  readonly failures: readonly { readonly name: string; readonly error: string }[];
}

/**
 * Times each kernel at the model's shapes through the op harness (CUDA events, median of
 * `iterations` after a warm-up) against the GPU's ceilings. Without a usable GPU it runs
 * nothing and says why in `skipped`.
 */
export async function runKernels(spec: ModelSpec, options: KernelsOptions, progress: Progress = silentProgress): Promise<KernelsReport> {
  const probe = probeCuda();
  const device = probe.device?.name ?? null;
  const measured = ceilingsFor(device ?? '');
  const bandwidthGBs = options.bandwidthGBs ?? measured.bandwidthGBs;
  const tflops = options.tflops ?? (options.dtype === 'bf16' ? measured.bf16Tflops : measured.f32Tflops);
  const ceilingSource = options.bandwidthGBs || options.tflops ? 'flags' : measured.known ? 'measured on our GPUs (GPU.md)' : 'unknown GPU: H100 figures';
  const base = { model: options.model, dtype: options.dtype, device, bandwidthGBs, tflops, ceilingSource };
  if (!probe.available) return { ...base, skipped: `no GPU (${probe.reason})`, rows: [], failures: [] };
  const backend = new CudaBackend();
  const ceilings = { bandwidthGBs, bf16Tflops: tflops, f32Tflops: tflops, fp8Tflops: measured.fp8Tflops };
  const cases = modelCases(spec, options);
  const rows: KernelRow[] = [];
  const failures: { name: string; error: string }[] = [];
  for (const [i, c] of cases.entries()) {
    try {
      const r = await benchCase(c.case, options.dtype, backend, ceilings, options.iterations);
      const { bytes, flops } = c.case.cost!(options.dtype);
      rows.push({ layer: c.layer, tokens: c.tokens, kernel: r.kernel, name: r.name, medianUs: r.medianUs, gbs: r.gbs, tflops: r.tflops, intensity: flops / bytes, fractionOfCeiling: r.fractionOfCeiling, bound: r.bound });
    } catch (error) {
      failures.push({ name: c.case.name, error: (error as Error).message });
    }
    progress.update(i + 1, cases.length);
  }
  progress.end();
  return { ...base, skipped: null, rows, failures };
}
