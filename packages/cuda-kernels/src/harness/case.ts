import type { DType, DimSizes, GraphBuilder, Pass, SyntheticFill, Tensor } from '@ignis/tensor';

/** Activation dtypes the CUDA backend computes in. */
export type FloatDType = Extract<DType, 'f32' | 'bf16'>;

/** One step of a case: its dims and inputs (float inputs as f32 values; the harness rounds them). */
export interface CaseStep {
  readonly dims: DimSizes;
  readonly inputs: Readonly<Record<string, Float32Array | Int32Array>>;
}

/**
 * How the backend under test gets a weight when not, as by default, held in memory in the
 * weight's dtype: in another dtype (f16, f32, bf16), from memory or from a safetensors `file`,
 * for the backend to convert at load; or as a synthetic fill (see `syntheticValue`) for it to make.
 */
export type WeightSupply = { readonly dtype: DType; readonly file?: boolean } | { readonly synthetic: SyntheticFill };

/** What one run of a case moves and computes, for benchmarks against the device's ceilings. */
export interface CaseCost {
  /** The fewest bytes the op must read and write. */
  readonly bytes: number;
  /** Floating-point operations (0 for memory-bound ops). */
  readonly flops: number;
  /** The FLOPs run on FP8 tensor cores (measured against the FP8 ceiling). */
  readonly fp8?: boolean;
}

/**
 * One op test, in the style of llama.cpp's test-backend-ops: a tiny graph, fresh random inputs,
 * a tolerance per dtype. The harness runs it on the backend under test and on the reference
 * backend (in f32, on the same rounded inputs) and compares every output; `bench` cases are
 * also timed, at model-sized shapes.
 */
export interface OpCase {
  /** The kernel folder under kernels/ that this case exercises. */
  readonly kernel: string;
  readonly name: string;
  /** Adds the op(s) under test and marks outputs; `dtype` is the activation dtype. */
  build(b: GraphBuilder, dtype: FloatDType): void;
  /** Largest dims of every step (the compiled maximum). */
  readonly maxDims: DimSizes;
  /** Load-time dims (e.g. NB cache blocks). */
  readonly loadDims?: DimSizes;
  /**
   * Weight values by name: f32 values (rounded to the activation dtype by the harness; synthetic
   * ones need none), or tensors loaded exactly as given by both backends (quantized weights' codes
   * and their scales).
   */
  weights(random: () => number): Record<string, Float32Array | Tensor>;
  /** Weights given to the backend under test otherwise than in memory in their own dtype (default: none). */
  readonly supply?: Readonly<Record<string, WeightSupply>>;
  /** Passes to run before the default ones (e.g. a quantization pass), for activations in `dtype`. */
  readonly passes?: (dtype: FloatDType) => readonly Pass[];
  /** The steps to run, in order (state such as the KV cache carries over). */
  steps(random: () => number): CaseStep[];
  /** Largest relative L2 error per dtype for float outputs. */
  readonly tolerance: Readonly<Record<FloatDType, number>>;
  /** Integer outputs: the smallest fraction of elements that must match exactly (default 1). */
  readonly integerMatch?: number;
  /** Only these dtypes (default both). */
  readonly dtypes?: readonly FloatDType[];
  /** Set for benchmark shapes: what one run of the last step costs. */
  readonly cost?: (dtype: FloatDType) => CaseCost;
  /** Too large for the reference backend: timed, not compared (smaller cases check the same kernel). */
  readonly benchOnly?: boolean;
  /** A comparison of its own instead of the default (per output: relative error or exact match). */
  readonly check?: (actual: StepResults, expected: StepResults, steps: readonly CaseStep[]) => OutputCheck[];
}

/** Every output of every step, in order. */
export type StepResults = readonly Readonly<Record<string, Float32Array | Int32Array>>[];

/** How one output of one case compared with the reference. */
export interface OutputCheck {
  readonly output: string;
  /** `error`: relative L2 error or largest difference (lower is better); `match`: fraction of integers equal (higher is better). */
  readonly metric: 'error' | 'match';
  readonly value: number;
  readonly limit: number;
  readonly pass: boolean;
}

/** bf16 or f32 element size. */
export const elementBytes = (dtype: FloatDType): number => (dtype === 'f32' ? 4 : 2);
