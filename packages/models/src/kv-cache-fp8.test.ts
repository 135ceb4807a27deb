import { GraphError, ReferenceBackend, relativeError } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { openCheckpoint } from './checkpoint.js';
import { demoModelPath, loadLogitsModel, promptLogits, readReferenceIn } from './testing/index.js';

describe('an fp8e4m3 KV cache in the model graph', () => {
  it('gives every layer its cache dtype and its own scales, and checks there is one pair per layer', async () => {
    const checkpoint = await openCheckpoint(demoModelPath('ignis-demo-10m'));
    try {
      const { spec } = checkpoint;
      const kvCacheScales = Array.from({ length: spec.numLayers }, (_, i) => ({ k: 0.5 + i, v: 0.25 * (i + 1) }));
      const graph = buildModelGraph(spec, { activationDtype: 'f32', blockSize: 16, kvCacheDtype: 'fp8e4m3', kvCacheScales });
      const attention = graph.ops.filter((op) => op.op === 'paged_attention');
      expect(attention.map((op) => [op.attrs.kScale, op.attrs.vScale])).toEqual(kvCacheScales.map((s) => [s.k, s.v]));
      const caches = graph.values.filter((v) => v.kind === 'state');
      expect(caches).toHaveLength(2 * spec.numLayers);
      expect(caches.every((v) => v.dtype === 'fp8e4m3')).toBe(true);
      expect(() => buildModelGraph(spec, { activationDtype: 'f32', blockSize: 16, kvCacheDtype: 'fp8e4m3', kvCacheScales: kvCacheScales.slice(1) })).toThrow(
        new GraphError(`kvCacheScales has ${spec.numLayers - 1} entries; the model has ${spec.numLayers} layers (one {k, v} per layer)`),
      );
      expect(() => buildModelGraph(spec, { activationDtype: 'f32', blockSize: 16, kvCacheScales })).toThrow(/a f32 cache is not scaled/);
    } finally {
      await checkpoint.close();
    }
  });

  // The trained demo model, whose K and V have the ranges of a real model (random fixtures' do
  // not: 10-14% there, with near-uniform attention and logits of tiny margins). Measured on this
  // text: 0.78% relative L2 error of the logits (0.97% with scales of 1); e4m3 keeps 3 mantissa
  // bits (up to 3% error per element), so about a percent is what an FP8 cache costs, and a much
  // larger error would mean a wrong scale or rounding.
  it('keeps the demo model logits within 3 percent of the float cache (non-unit scales, chunked prefill)', async () => {
    const dir = demoModelPath('ignis-demo-10m');
    const checkpoint = await openCheckpoint(dir);
    try {
      const prompt = readReferenceIn(dir).prompts.at(-1)!;
      const ids = [...prompt.ids, ...prompt.greedy]; // 58 tokens of the model's own text
      const kvCacheScales = Array.from({ length: checkpoint.spec.numLayers }, () => ({ k: 0.05, v: 0.05 }));
      const load = async (fp8: boolean) =>
        loadLogitsModel(checkpoint.spec, new ReferenceBackend(), checkpoint.weights, {
          dtype: 'f32',
          maxTokens: 64,
          ...(fp8 ? { kvCacheDtype: 'fp8e4m3', kvCacheScales } : {}),
        });
      const float = await promptLogits(await load(false), ids, 7);
      const fp8 = await promptLogits(await load(true), ids, 7);
      const error = relativeError(fp8, float);
      expect(error).toBeLessThan(0.03);
      expect(error).toBeGreaterThan(1e-4); // the cache really held e4m3 values
    } finally {
      await checkpoint.close();
    }
  });
});
