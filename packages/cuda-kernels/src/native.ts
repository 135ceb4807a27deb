import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { DType, ValueKind } from '@ignis/tensor';

/** dtype numbering shared with native/ (kernels/common/dtype.h). */
export const NATIVE_DTYPES: Readonly<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2, i8: 3, i32: 4, fp8e4m3: 5, fp8e5m2: 6 };

/** Value kind numbering shared with native/plan.h. */
export const NATIVE_VALUE_KINDS: Readonly<Record<ValueKind, number>> = { input: 0, weight: 1, constant: 2, state: 3, activation: 4 };

/** What the addon reports about the machine. */
export interface NativeDeviceInfo {
  readonly available: boolean;
  /** Why the GPU cannot be used, in one line. */
  readonly reason?: string;
  readonly runtimeVersion: number;
  readonly driverVersion: number;
  /** The CUDA architectures this build has machine code for, e.g. "90a". */
  readonly buildArchs: string;
  readonly name?: string;
  readonly computeCapability?: string;
  readonly multiprocessors?: number;
  readonly totalMemory?: number;
  readonly freeMemory?: number;
  readonly l2Bytes?: number;
  readonly cublasLt?: { readonly available: boolean; readonly version?: number; readonly error?: string };
  readonly nccl?: { readonly available: boolean; readonly version?: number; readonly error?: string };
}

/** A plan flattened for the native executor (see native/plan.h). */
export interface FlatPlan {
  readonly values: FlatValue[];
  readonly ops: { kind: string; label: string; inputs: number[]; outputs: number[]; attrs: Record<string, number> }[];
  readonly outputs: Record<string, number>;
  readonly symbols: string[];
  readonly symbolMax: number[];
  readonly arenaBytes: number;
  readonly inputBytes: number;
}

/** One value of a flattened plan; weights carry their format (see native/plan.h WeightFormatDesc). */
export interface FlatValue {
  readonly name: string;
  readonly kind: number;
  readonly dtype: number;
  readonly shape: [number, number][];
  readonly offset: number;
  /** Quantized weights only. */
  readonly format?: FlatWeightFormat;
}

/** A weight format as numbers: the enums' positions in {@link SCALE_KINDS} and {@link ACTIVATION_KINDS}. */
export interface FlatWeightFormat {
  readonly scaleKind: number;
  /** Block rows and columns, or the group size (twice), or 0 for channel scales. */
  readonly tileRows: number;
  readonly tileCols: number;
  readonly activation: number;
  /** For a weight quantized at load: the float dtype it is read in. */
  readonly quantizeFrom?: number;
  /** Elements of each companion (weight_scale, then input_scale when there is one). */
  readonly companions: number[];
}

/** Scale granularities in native order (native/plan.h ScaleKind). */
export const SCALE_KINDS = ['channel', 'block', 'group'] as const;
/** Activation quantizations in native order (native/plan.h ActivationKind). */
export const ACTIVATION_KINDS = ['none', 'fp8-token', 'fp8-static', 'fp8-token-group'] as const;
/** Companion roles in native order. */
export const COMPANION_ROLES = ['weight_scale', 'input_scale'] as const;

/** Device memory held by one executor, in bytes. */
export interface NativeMemory {
  readonly weights: number;
  readonly state: number;
  readonly arena: number;
  readonly workspace: number;
  readonly pinned: number;
}

/** The native executor (native/addon.cc). */
export interface NativeExecutor {
  setConstant(value: number, data: ArrayBufferView): void;
  /** Host data into elements [element, ...) of a weight (converted on the device). */
  uploadWeight(value: number, dtype: number, data: ArrayBufferView, element: number): void;
  /** Synthetic values into elements [element, element + count) of a weight. */
  fillWeight(value: number, seed: number, scale: number, offset: number, element: number, count: number): void;
  /** File ranges into weights, each at element `element` of its weight. */
  loadFiles(weights: { value: number; path: string; offset: number; bytes: number; dtype: number; element: number }[]): Promise<void>;
  /** f32 data into a quantized weight's companion (`role`: its index in {@link COMPANION_ROLES}). */
  uploadCompanion(value: number, role: number, data: Float32Array): void;
  /**
   * For a weight quantized at load: loads into it (upload, fill, files) go to a float staging
   * buffer of its `quantizeFrom` dtype until {@link quantizeWeight}, which quantizes it per output
   * row into the weight and its scales and frees the staging.
   */
  stageWeight(value: number): void;
  quantizeWeight(value: number): void;
  run(inputs: [number, ArrayBufferView][], dims: number[], outputs: string[], graph: boolean): Promise<ArrayBuffer[]>;
  time(inputs: [number, ArrayBufferView][], dims: number[], iterations: number): Promise<number[]>;
  memory(): NativeMemory;
  dispose(): void;
}

/** The addon's exports. */
export interface NativeAddon {
  deviceInfo(): NativeDeviceInfo;
  Executor: new (plan: FlatPlan) => NativeExecutor;
}

/** The outcome of looking for the addon: the addon, where it came from, and what failed on the way. */
export interface AddonLookup {
  readonly addon: NativeAddon | undefined;
  readonly source: string | undefined;
  readonly problems: readonly string[];
}

const require = createRequire(import.meta.url);
/** The package root: src/ and dist/ both sit one level below it. */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** The platform package a prebuilt addon would come in, e.g. `@ignis/cuda-kernels-linux-x64`. */
export const PREBUILT_PACKAGE = `@ignis/cuda-kernels-${platform()}-${arch()}`;

let lookup: AddonLookup | undefined;

/**
 * Finds the native addon as sharp does: an explicit IGNIS_CUDA_ADDON path, then the local build
 * (build/ignis_cuda.node), then a prebuilt platform package. Never throws: what failed at each
 * place is in `problems`, for one error that lists every cause.
 */
export function loadAddon(): AddonLookup {
  if (lookup) return lookup;
  const problems: string[] = [];
  const attempt = (source: string, path: string): NativeAddon | undefined => {
    try {
      return require(path) as NativeAddon;
    } catch (error) {
      problems.push(`${source}: ${(error as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  const explicit = process.env.IGNIS_CUDA_ADDON;
  const local = `${packageRoot}build/ignis_cuda.node`;
  let addon: NativeAddon | undefined;
  let source: string | undefined;
  if (explicit) {
    addon = attempt(`IGNIS_CUDA_ADDON=${explicit}`, explicit);
    source = addon && explicit;
  }
  if (!addon) {
    if (existsSync(local)) {
      addon = attempt(`local build ${local}`, local);
      source = addon && local;
    } else {
      problems.push(`local build: no ${local} (pnpm --filter @ignis/cuda-kernels build:native builds it; it needs nvcc)`);
    }
  }
  if (!addon) {
    addon = attempt(`prebuilt ${PREBUILT_PACKAGE}`, `${PREBUILT_PACKAGE}/ignis_cuda.node`);
    source = addon && PREBUILT_PACKAGE;
  }
  lookup = { addon, source, problems };
  return lookup;
}
