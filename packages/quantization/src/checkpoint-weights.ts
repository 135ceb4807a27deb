import { type DType, type FileRange, type ScaleGranularity, type SyntheticFill, Tensor, type WeightSource, scaleIndex } from '@ignis/tensor';
import type { CheckpointScheme } from './scheme.js';

/** A tensor's dtype and shape, as `WeightSource.info` answers. */
export interface TensorInfo {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** `x.weight_scale` -> `x`, for the companion names the engine reads. */
function moduleOf(name: string, suffix: string): string | undefined {
  return name.endsWith(`.${suffix}`) ? name.slice(0, -suffix.length - 1) : undefined;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * A quantized checkpoint as the engine reads weights: FP8 data as stored, and scales under the
 * engine's names and shapes whatever the format called them (see `WeightFormat`): `x.weight_scale`
 * f32 [N] for tensor and channel scales (a per-tensor scale repeated over the rows, so that fused
 * q/k/v keep each part's own), [N/rows, K/cols] for block scales (read from `weight_scale_inv` in
 * DeepSeek's format); `x.input_scale` f32 [1]. Weights named in `dequantize` read as f32 real
 * values instead (code x scale): for a backend without a kernel for the checkpoint's format, which
 * then runs them in float or quantizes them again at load.
 */
export class QuantizedCheckpointWeights implements WeightSource {
  constructor(
    private readonly source: WeightSource,
    private readonly scheme: CheckpointScheme,
    private readonly dequantize: ReadonlySet<string> = new Set(),
  ) {}

  info(name: string): TensorInfo | undefined {
    if (this.dequantize.has(name)) {
      const found = this.source.info(name);
      return found && { dtype: 'f32', shape: found.shape };
    }
    const scaleOf = moduleOf(name, 'weight_scale');
    if (scaleOf !== undefined) return this.scaleInfo(scaleOf);
    const inputOf = moduleOf(name, 'input_scale');
    if (inputOf !== undefined) {
      const found = this.source.info(name);
      return found && { dtype: 'f32', shape: numel(found.shape) === 1 ? [1] : found.shape };
    }
    return this.source.info(name);
  }

  async read(name: string): Promise<Tensor> {
    if (this.dequantize.has(name)) return this.dequantized(name);
    const scaleOf = moduleOf(name, 'weight_scale');
    if (scaleOf !== undefined) return this.readScale(scaleOf);
    if (moduleOf(name, 'input_scale') !== undefined) {
      const tensor = await this.source.read(name);
      return new Tensor('f32', numel(tensor.shape) === 1 ? [1] : tensor.shape, Float32Array.from(tensor.toF32()));
    }
    return this.source.read(name);
  }

  fileRange(name: string): FileRange | undefined {
    if (this.dequantize.has(name) || moduleOf(name, 'weight_scale') !== undefined || moduleOf(name, 'input_scale') !== undefined) return undefined;
    return this.source.fileRange?.(name);
  }

  synthetic(name: string): SyntheticFill | undefined {
    return this.source.synthetic?.(name);
  }

  /** The checkpoint tensor a weight's scales are read from. */
  scaleSource(module: string): string {
    return `${module}.${this.scheme.scaleName}`;
  }

  private scaleInfo(module: string): TensorInfo | undefined {
    const found = this.source.info(this.scaleSource(module));
    const weight = this.source.info(`${module}.weight`);
    if (!found || !weight) return found;
    if (this.scheme.weightScale === 'block') return { dtype: 'f32', shape: found.shape };
    const rows = weight.shape[0]!;
    const perTensor = this.scheme.weightScale === 'tensor' && numel(found.shape) === 1;
    const perChannel = this.scheme.weightScale === 'channel' && numel(found.shape) === rows && found.shape.every((d, i) => i === 0 || d === 1);
    return { dtype: 'f32', shape: perTensor || perChannel ? [rows] : found.shape };
  }

  private async readScale(module: string): Promise<Tensor> {
    const info = this.scaleInfo(module);
    if (!info) throw new RangeError(`no tensor ${this.scaleSource(module)}`);
    const scales = (await this.source.read(this.scaleSource(module))).toF32();
    const out = new Float32Array(numel(info.shape));
    if (scales.length === 1) out.fill(scales[0]!);
    else out.set(scales.subarray(0, out.length));
    return new Tensor('f32', info.shape, out);
  }

  /** Real values of an FP8 weight: each code times its scale, in f32. */
  private async dequantized(name: string): Promise<Tensor> {
    const codes = await this.source.read(name);
    const [rows, cols] = codes.shape as [number, number];
    const module = name.slice(0, -'.weight'.length);
    const scale = await this.readScale(module);
    const values = codes.toF32();
    const out = new Float32Array(values.length);
    const block = this.scheme.weightScale === 'block' && this.scheme.block;
    const granularity: ScaleGranularity = block ? { kind: 'block', rows: block[0], cols: block[1] } : { kind: 'channel' };
    const scales = scale.data as Float32Array;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(values[r * cols + c]! * scales[scaleIndex(granularity, cols, r, c)]!);
    }
    return new Tensor('f32', [rows, cols], out);
  }
}
