import { UnsupportedQuantizationError } from './errors.js';
import type { CheckpointScheme } from './scheme.js';

type Json = Readonly<Record<string, unknown>>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a `compressed-tensors` quantization_config (what llm-compressor writes) with FP8 weights:
 * `format` `float-quantized` (or `naive-quantized`), every config group's `weights` 8-bit
 * `float`, symmetric and static, strategy `tensor`, `channel` or `block` (with `block_structure`);
 * `input_activations` 8-bit `float`, dynamic (`token` or `tensor`: both run per token, at least
 * as accurate) or static per `tensor`, or absent (weight-only); `kv_cache_scheme` static per-tensor
 * FP8 or absent. Anything else is an error that names the field and its value.
 */
export function compressedTensorsScheme(config: Readonly<Record<string, unknown>>, where: string): CheckpointScheme {
  const fail = (field: string, value: unknown, supported: string): never => {
    throw new UnsupportedQuantizationError(`${where}: quantization_config.${field} ${JSON.stringify(value)} is not supported (supported: ${supported})`);
  };
  const format = config.format;
  if (format !== 'float-quantized' && format !== 'naive-quantized') fail('format', format, 'float-quantized, naive-quantized; 4-bit pack-quantized comes later');
  const groups = config.config_groups;
  if (!isObject(groups) || Object.keys(groups).length === 0) fail('config_groups', groups, 'an object of one or more groups');
  const schemes = Object.entries(groups as Json).map(([name, group]) => groupScheme(name, group, fail));
  const first = JSON.stringify(schemes[0]);
  if (schemes.some((s) => JSON.stringify(s) !== first)) fail('config_groups', Object.keys(groups as Json), 'groups that all quantize the same way');
  const kv = config.kv_cache_scheme;
  if (kv !== undefined && kv !== null) {
    if (!isObject(kv) || kv.type !== 'float' || kv.num_bits !== 8 || kv.dynamic === true || (kv.strategy !== undefined && kv.strategy !== 'tensor')) {
      fail('kv_cache_scheme', kv, 'static per-tensor 8-bit float (k_scale and v_scale per layer)');
    }
  }
  return { ...schemes[0]!, source: `compressed-tensors ${String(format)}`, scaleName: 'weight_scale', kvCacheScales: isObject(kv) };
}

type Fail = (field: string, value: unknown, supported: string) => never;

function groupScheme(name: string, group: unknown, fail: Fail): Omit<CheckpointScheme, 'source' | 'scaleName' | 'kvCacheScales'> {
  if (!isObject(group)) return fail(`config_groups.${name}`, group, 'an object');
  const weights = group.weights;
  const at = `config_groups.${name}.weights`;
  if (!isObject(weights)) return fail(at, weights, 'an object');
  if (weights.type !== 'float' || weights.num_bits !== 8) fail(`${at}.type/num_bits`, [weights.type, weights.num_bits], 'float, 8 (FP8 e4m3)');
  if (weights.dynamic === true) fail(`${at}.dynamic`, weights.dynamic, 'false');
  if (weights.symmetric === false) fail(`${at}.symmetric`, weights.symmetric, 'true');
  const strategy = weights.strategy;
  if (strategy !== 'tensor' && strategy !== 'channel' && strategy !== 'block') fail(`${at}.strategy`, strategy, 'tensor, channel, block');
  let block: readonly [number, number] | undefined;
  if (strategy === 'block') {
    const b = weights.block_structure;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) fail(`${at}.block_structure`, b, '[rows, columns]');
    block = [(b as number[])[0]!, (b as number[])[1]!];
  }
  const inputs = group.input_activations;
  const inAt = `config_groups.${name}.input_activations`;
  let activations: CheckpointScheme['activations'] = 'none';
  if (inputs !== undefined && inputs !== null) {
    if (!isObject(inputs) || inputs.type !== 'float' || inputs.num_bits !== 8) fail(inAt, inputs, '8-bit float activations');
    const a = inputs as Json;
    if (a.dynamic === true && (a.strategy === 'token' || a.strategy === 'tensor' || (a.strategy === 'group' && strategy === 'block'))) activations = 'dynamic';
    else if (a.dynamic !== true && a.strategy === 'tensor') activations = 'static';
    else fail(`${inAt}.strategy/dynamic`, [a.strategy, a.dynamic], 'dynamic token or tensor, static tensor');
  }
  return { weightScale: strategy as CheckpointScheme['weightScale'], ...(block ? { block } : {}), activations };
}
