import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type FileRange,
  type Plan,
  SafetensorsCheckpoint,
  type SyntheticFill,
  Tensor,
  type WeightSource,
  decodeToF32,
  encodeFromF32,
  syntheticValue,
  writeSafetensors,
} from '@ignis/tensor';
import type { FloatDType, OpCase, WeightSupply } from './case.js';

/** A case's weights: as the backend under test gets them, and as f32 values for the reference. */
export interface CaseWeights {
  /** What the backend under test loads (conversions and fills left to it). */
  readonly device: WeightSource;
  /** What the reference backend loads: the values the backend should end up with, in f32, and given tensors as they are. */
  readonly expected: Record<string, Float32Array | Tensor>;
  /** Removes any file written for the device. */
  dispose(): Promise<void>;
}

/** `values` as the activation dtype would store them, back in f32 (what both backends see). */
export function roundTo(values: Float32Array, dtype: FloatDType): Float32Array {
  return dtype === 'f32' ? values : decodeToF32(encodeFromF32(values, 'bf16'), 'bf16');
}

/**
 * Lays out a case's weights (`values`, f32 or tensors, by name) for `plan`, compiled in activation
 * `dtype`: by default in memory, rounded to `dtype`, in the weight's own dtype (a weight quantized
 * at load in the float dtype it is read in); `c.supply` may give a weight in another dtype (in
 * memory or in a safetensors file), which the backend converts at load, or as a synthetic fill for
 * the backend to make. Tensors (a quantized weight's codes and scales) go to both backends as
 * given. `expected` holds what each weight should be once loaded.
 */
export async function caseWeights(c: OpCase, plan: Plan, dtype: FloatDType, values: Record<string, Float32Array | Tensor>): Promise<CaseWeights> {
  const tensors = new Map<string, Tensor>();
  const fills = new Map<string, SyntheticFill>();
  const inFile: Record<string, Tensor> = {};
  const expected: Record<string, Float32Array | Tensor> = {};
  for (const [name, data] of Object.entries(values)) {
    if (!(data instanceof Tensor)) continue;
    tensors.set(name, data);
    expected[name] = data;
  }
  for (const value of plan.values) {
    if (value.kind !== 'weight' || tensors.has(value.name)) continue;
    const shape = value.shape as number[];
    const stored = value.format?.quantizeFrom ?? value.dtype;
    const loaded: FloatDType = stored === 'bf16' ? 'bf16' : 'f32';
    const supply: WeightSupply | undefined = c.supply?.[value.name];
    let tensor: Tensor;
    if (supply && 'synthetic' in supply) {
      fills.set(value.name, supply.synthetic);
      tensor = Tensor.fromValues(loaded, shape, synthesize(supply.synthetic, shape));
    } else {
      const data = values[value.name];
      if (!(data instanceof Float32Array)) throw new Error(`case ${c.name} has no weight ${value.name}`);
      tensor = supply ? Tensor.fromValues(supply.dtype, shape, data) : Tensor.fromValues(loaded, shape, roundTo(data, dtype));
    }
    if (supply && 'file' in supply && supply.file) inFile[value.name] = tensor;
    else tensors.set(value.name, tensor);
    expected[value.name] = roundTo(decodeToF32(tensor.data, tensor.dtype), loaded);
  }
  const dir = Object.keys(inFile).length > 0 ? await mkdtemp(join(tmpdir(), 'ignis-case-')) : undefined;
  const checkpoint = dir ? await writeAndOpen(join(dir, 'weights.safetensors'), inFile) : undefined;
  const device: WeightSource = {
    info: (name) => (inFile[name] ? checkpoint!.info(name) : tensors.get(name)),
    read: (name) => (inFile[name] ? checkpoint!.read(name) : readFrom(tensors, name)),
    fileRange: (name): FileRange | undefined => (inFile[name] ? checkpoint!.fileRange(name) : undefined),
    synthetic: (name) => fills.get(name),
  };
  return { device, expected, dispose: () => (dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve()) };
}

function readFrom(tensors: ReadonlyMap<string, Tensor>, name: string): Promise<Tensor> {
  const tensor = tensors.get(name);
  return tensor ? Promise.resolve(tensor) : Promise.reject(new Error(`no weight ${name}`));
}

/** The values of a synthetic fill (see `syntheticValue`), as the backend would make them in f32. */
function synthesize(fill: SyntheticFill, shape: readonly number[]): Float32Array {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = syntheticValue(fill.seed, i, fill.scale, fill.offset);
  return values;
}

async function writeAndOpen(path: string, tensors: Record<string, Tensor>): Promise<SafetensorsCheckpoint> {
  await writeSafetensors(path, tensors);
  return SafetensorsCheckpoint.open(path);
}
