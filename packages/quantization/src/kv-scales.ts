import type { WeightSource } from '@ignis/tensor';
import { QuantizedCheckpointError } from './errors.js';

/** One layer's FP8 KV-cache scales: the cache stores e4m3(k / k) and reads code x k (same for v). */
export interface KvCacheScales {
  readonly k: number;
  readonly v: number;
}

/**
 * Per-layer KV-cache scales from a checkpoint, as vLLM reads them: `model.layers.{i}.self_attn.k_scale`
 * and `v_scale` (compressed-tensors' kv_cache_scheme), or one `kv_scale` for both (AutoFP8); 1.0
 * where a layer has none (then K and V must stay within e4m3's ±448 as they are, which real models'
 * values do, and larger ones saturate). A scale that is not a finite positive scalar is an error
 * naming the tensor.
 */
export async function readKvCacheScales(source: WeightSource, numLayers: number): Promise<KvCacheScales[]> {
  const scalar = async (name: string): Promise<number | undefined> => {
    const info = source.info(name);
    if (!info) return undefined;
    const values = (await source.read(name)).toF32();
    const value = values[0];
    if (values.length !== 1 || value === undefined || !Number.isFinite(value) || value <= 0) {
      throw new QuantizedCheckpointError(`KV-cache scale ${name} must be one finite positive number, got ${values.length} values starting ${String(value)}`);
    }
    return value;
  };
  const scales: KvCacheScales[] = [];
  for (let i = 0; i < numLayers; i++) {
    const prefix = `model.layers.${i}.self_attn`;
    const both = await scalar(`${prefix}.kv_scale`);
    scales.push({ k: (await scalar(`${prefix}.k_scale`)) ?? both ?? 1, v: (await scalar(`${prefix}.v_scale`)) ?? both ?? 1 });
  }
  return scales;
}
