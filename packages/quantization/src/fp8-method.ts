import { UnsupportedQuantizationError } from './errors.js';
import type { CheckpointScheme } from './scheme.js';

/**
 * Reads an `fp8` quantization_config: DeepSeek's and Qwen3's block FP8 (`weight_block_size`
 * [128, 128], scales in `weight_scale_inv`, real = code x scale; `activation_scheme` dynamic:
 * per token and 128-column group), or AutoFP8's per-tensor FP8 (no `weight_block_size`,
 * `weight_scale` per tensor, `activation_scheme` dynamic or static with `input_scale`). `fmt`
 * must be e4m3.
 */
export function fp8MethodScheme(config: Readonly<Record<string, unknown>>, where: string): CheckpointScheme {
  const fail = (field: string, value: unknown, supported: string): never => {
    throw new UnsupportedQuantizationError(`${where}: quantization_config.${field} ${JSON.stringify(value)} is not supported (supported: ${supported})`);
  };
  if (config.fmt !== undefined && config.fmt !== 'e4m3') fail('fmt', config.fmt, 'e4m3');
  const scheme = config.activation_scheme ?? 'dynamic';
  if (scheme !== 'dynamic' && scheme !== 'static') fail('activation_scheme', scheme, 'dynamic, static');
  const size = config.weight_block_size;
  if (size === undefined || size === null) {
    return { source: 'fp8 (per tensor)', weightScale: 'tensor', scaleName: 'weight_scale', activations: scheme as 'dynamic' | 'static', kvCacheScales: false };
  }
  if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) fail('weight_block_size', size, '[rows, columns]');
  if (scheme !== 'dynamic') fail('activation_scheme', scheme, 'dynamic (with weight_block_size)');
  return {
    source: `fp8 (${(size as number[]).join('x')} blocks)`,
    weightScale: 'block',
    block: [(size as number[])[0]!, (size as number[])[1]!],
    scaleName: 'weight_scale_inv',
    activations: 'dynamic',
    kvCacheScales: false,
  };
}
