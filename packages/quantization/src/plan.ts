import {
  type Backend,
  type DType,
  type Graph,
  type OpNode,
  type Pass,
  type QuantizedWeight,
  type Value,
  type WeightFormat,
  type WeightSource,
  describeFormat,
  quantizeLinears,
  weightSlices,
  withFormat,
} from '@ignis/tensor';
import { QuantizedCheckpointWeights } from './checkpoint-weights.js';
import { compressedTensorsScheme } from './compressed-tensors.js';
import { UnsupportedQuantizationError } from './errors.js';
import { fp8MethodScheme } from './fp8-method.js';
import type { CheckpointScheme } from './scheme.js';

/**
 * What to run a model's linear layers in:
 * - `auto`: as the checkpoint says (its `quantization_config`), else unquantized;
 * - `fp8`: FP8 W8A8: a quantized checkpoint's FP8 weights as they are, and every other linear
 *   weight but the LM head quantized at load (per output channel, per-token activations);
 * - `none`: unquantized; FP8 weights of a checkpoint are dequantized at load.
 */
export type QuantizationMethod = 'auto' | 'fp8' | 'none';

/** The methods, for option parsers. */
export const QUANTIZATION_METHODS: readonly QuantizationMethod[] = ['auto', 'fp8', 'none'];

/** What {@link planQuantization} needs to know. */
export interface QuantizationRequest {
  /** config.json's `quantization_config`, if it has one. */
  readonly checkpointConfig: unknown;
  /** Where that config came from, for errors (a file's base name). */
  readonly where: string;
  readonly method: QuantizationMethod;
  /** The checkpoint's tensors as stored. */
  readonly source: WeightSource;
  /** The backend the plan will run on: formats it does not support are not chosen. */
  readonly backend: Pick<Backend, 'supportsOp'>;
}

/** How a model will be quantized: the compile pass, then the weights the compiled plan reads. */
export interface QuantizationPlan {
  /** The checkpoint's scheme, when it is quantized. */
  readonly scheme: CheckpointScheme | undefined;
  /** Gives each linear weight its dtype and format; runs before the fusion passes. */
  readonly pass: Pass;
  /** The checkpoint's tensors as `plan`'s weights read them (scales renamed, FP8 weights the backend cannot run dequantized). */
  weightsFor(plan: Graph): WeightSource;
}

/** Reads `quantization_config` into the scheme of the checkpoint's tensors (undefined for none). */
export function checkpointScheme(config: unknown, where: string): CheckpointScheme | undefined {
  if (config === undefined || config === null) return undefined;
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new UnsupportedQuantizationError(`${where}: quantization_config must be an object, got ${JSON.stringify(config)}`);
  }
  const json = config as Readonly<Record<string, unknown>>;
  switch (json.quant_method) {
    case 'compressed-tensors':
      return compressedTensorsScheme(json, where);
    case 'fp8':
      return fp8MethodScheme(json, where);
    default:
      throw new UnsupportedQuantizationError(
        `${where}: quantization_config.quant_method ${JSON.stringify(json.quant_method)} is not supported (supported: compressed-tensors, fp8)`,
      );
  }
}

/** The engine's format for a checkpoint's FP8 weights. */
function storedFormat(scheme: CheckpointScheme): WeightFormat {
  const block = scheme.weightScale === 'block' && scheme.block;
  const scale: WeightFormat['scale'] = block ? { kind: 'block', rows: block[0], cols: block[1] } : { kind: 'channel' };
  const activation: WeightFormat['activation'] =
    scheme.activations === 'none' ? 'none' : scheme.activations === 'static' ? 'fp8-static' : block ? 'fp8-token-group' : 'fp8-token';
  return { scale, activation };
}

/** FP8 with channel scales and per-token activations, quantized at load from `from`. */
const atLoad = (from: DType): QuantizedWeight => ({ dtype: 'fp8e4m3', format: { scale: { kind: 'channel' }, activation: 'fp8-token', quantizeFrom: from } });

/** The LM head stays in float (as vLLM and TensorRT-LLM keep it): quantizing it costs accuracy for little speed. */
const LM_HEAD = 'lm_head.weight';

/**
 * Plans quantization for a model: which checkpoint format its tensors are in, and for each linear
 * weight the first format the backend supports among what the request allows. For a checkpoint's
 * FP8 weights: its own format; then (block scales only) the same weights quantized again per
 * channel at load; then float. For float weights under `fp8`: FP8 quantized at load.
 */
export function planQuantization(request: QuantizationRequest): QuantizationPlan {
  const scheme = checkpointScheme(request.checkpointConfig, request.where);
  const { source, backend, method } = request;
  const supported = (weight: Value, readers: readonly OpNode[], graph: Graph, candidate: QuantizedWeight): boolean => {
    const changed = withFormat(weight, candidate);
    const trial = { ...graph, values: graph.values.map((v) => (v.id === weight.id ? changed : v)) };
    return readers.every((op) => backend.supportsOp(op, trial));
  };
  const choose = (weight: Value, readers: readonly OpNode[], graph: Graph): QuantizedWeight | undefined => {
    const stored = source.info(weight.name)?.dtype;
    const candidates: QuantizedWeight[] = [];
    if (stored === 'fp8e4m3' && scheme && method !== 'none') {
      const format = storedFormat(scheme);
      candidates.push({ dtype: 'fp8e4m3', format });
      if (format.activation !== 'none') candidates.push(atLoad('f32'));
    } else if (stored !== undefined && stored !== 'fp8e4m3' && method === 'fp8' && weight.name !== LM_HEAD) {
      candidates.push(atLoad(stored));
    }
    return candidates.find((c) => supported(weight, readers, graph, c));
  };
  return {
    scheme,
    pass: quantizeLinears('quantize-linears', choose),
    weightsFor(plan) {
      if (!scheme) return source;
      // FP8 tensors a plan weight does not read as stored FP8 (re-quantized at load, or float) read as real values.
      const dequantize = new Set<string>();
      for (const value of plan.values) {
        if (value.kind !== 'weight' || (value.format && !value.format.quantizeFrom)) continue;
        for (const slice of weightSlices(value)) if (source.info(slice.name)?.dtype === 'fp8e4m3') dequantize.add(slice.name);
      }
      return new QuantizedCheckpointWeights(source, scheme, dequantize);
    },
  };
}

/**
 * What a compiled plan's weights are, in one line per distinct format with counts, e.g.
 * `224 x fp8e4m3, channel scales, fp8-token activations; 2 x bf16` (for logs and reports).
 */
export function describeWeights(plan: Graph): string {
  const counts = new Map<string, number>();
  for (const value of plan.values) {
    if (value.kind !== 'weight' || value.shape.length !== 2) continue;
    const key = describeFormat(value.dtype, value.format);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([format, n]) => `${n} x ${format}`).join('; ');
}
