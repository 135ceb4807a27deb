import { rm } from 'node:fs/promises';
import { CheckpointError } from '@ignis/models';
import { FP8_FIXTURE_MODELS, demoModelPath, editedFixture, fixturePath, readReference } from '@ignis/models/testing';
import { UnsupportedQuantizationError } from '@ignis/quantization';
import { Tensor } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { InvalidParameterError } from './errors.js';
import { LLM } from './llm.js';

const GREEDY = { temperature: 0, maxTokens: 16, ignoreEos: true } as const;
const DEMO = demoModelPath('ignis-demo-10m');

describe('FP8 through the engine (reference backend)', () => {
  it.each(FP8_FIXTURE_MODELS)('%s: a quantized checkpoint loads as its config says and generates its format emulation\'s greedy tokens', async (name) => {
    const llm = await LLM.load(fixturePath(name), { device: 'cpu' });
    try {
      expect(llm.quantization).toBe('fp8');
      expect(llm.weightFormats).toMatch(/x fp8e4m3/);
      for (const prompt of readReference(name).prompts) {
        const result = await llm.generate(prompt.ids, { ...GREEDY, maxTokens: prompt.greedy.length });
        expect(result.tokenIds).toStrictEqual(prompt.greedy);
      }
    } finally {
      llm.dispose();
    }
  });

  it('--quantization fp8 quantizes a float checkpoint at load; --quantization none dequantizes an FP8 one', async () => {
    const fp8 = await LLM.load(DEMO, { device: 'cpu', quantization: 'fp8' });
    const none = await LLM.load(fixturePath('llama32-fp8-dynamic'), { device: 'cpu', quantization: 'none' });
    try {
      expect(fp8.weightFormats).toMatch(/^\d+ x f32; \d+ x fp8e4m3, channel scales, fp8-token activations, quantized at load from bf16$|quantized at load from bf16; \d+ x f32$/);
      expect(none.quantization).toBe('none');
      expect(none.weightFormats).toMatch(/^\d+ x f32$/);
    } finally {
      fp8.dispose();
      none.dispose();
    }
  });

  it('an FP8 KV cache holds four times the tokens of an f32 one in the same bytes, and generates', async () => {
    const bytes = 1 << 22;
    const f32 = await LLM.load(DEMO, { device: 'cpu', kvCacheBytes: bytes });
    const fp8 = await LLM.load(DEMO, { device: 'cpu', kvCacheBytes: bytes, kvCacheDtype: 'fp8' });
    try {
      expect(f32.kvCacheDtype).toBe('f32');
      expect(fp8.kvCacheDtype).toBe('fp8e4m3');
      expect(fp8.kvBytesPerToken * 4).toBe(f32.kvBytesPerToken);
      // Both pools are floor(bytes / block bytes), the null block included.
      expect(fp8.cache.numBlocks).toBe(Math.floor(bytes / (fp8.kvBytesPerToken * fp8.cache.blockSize)));
      expect(f32.cache.numBlocks).toBe(Math.floor(bytes / (f32.kvBytesPerToken * f32.cache.blockSize)));
      // The demo model's greedy tokens survive an FP8 cache here (logits move by ~1%: see kv-cache-fp8.test.ts in @ignis/models).
      const prompt = 'In the beginning God created';
      expect((await fp8.generate(prompt, GREEDY)).tokenIds).toStrictEqual((await f32.generate(prompt, GREEDY)).tokenIds);
    } finally {
      f32.dispose();
      fp8.dispose();
    }
  });

  it('names what is wrong with a malformed FP8 checkpoint: a missing scale, a scale of the wrong shape, an unknown scheme, a bad KV scale', async () => {
    const broken = await editedFixture('qwen2-fp8-static', {
      tensors: (t) => {
        delete t['model.layers.0.self_attn.k_proj.weight_scale'];
        t['model.layers.1.mlp.down_proj.weight_scale'] = Tensor.zeros('f32', [3]);
      },
    });
    const unknown = await editedFixture('llama32-fp8-dynamic', { config: { quantization_config: { quant_method: 'awq', bits: 4 } } });
    const badKv = await editedFixture('qwen2-fp8-static', { tensors: (t) => void (t['model.layers.1.self_attn.v_scale'] = Tensor.fromValues('f32', [1], [-1])) });
    try {
      const message = await LLM.load(broken, { device: 'cpu' }).then(
        () => '',
        (error: unknown) => (expect(error).toBeInstanceOf(CheckpointError), (error as Error).message),
      );
      expect(message).toMatch(/missing tensor model.layers.0.self_attn.k_proj.weight_scale \(expected f32 \[32\]\)/);
      expect(message).toMatch(/tensor model.layers.1.mlp.down_proj.weight_scale has shape \[3\], expected \[64\]/);
      await expect(LLM.load(unknown, { device: 'cpu' })).rejects.toThrow(UnsupportedQuantizationError);
      await expect(LLM.load(unknown, { device: 'cpu' })).rejects.toThrow(/quantization_config.quant_method "awq" is not supported \(supported: compressed-tensors, fp8\)/);
      await expect(LLM.load(badKv, { device: 'cpu', kvCacheDtype: 'fp8' })).rejects.toThrow(/KV-cache scale model.layers.1.self_attn.v_scale must be one finite positive number/);
    } finally {
      for (const dir of [broken, unknown, badKv]) await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a KV cache dtype it does not know', async () => {
    await expect(LLM.load(DEMO, { device: 'cpu', kvCacheDtype: 'int4' as 'fp8' })).rejects.toThrow(InvalidParameterError);
    await expect(LLM.load(DEMO, { device: 'cpu', kvCacheDtype: 'int4' as 'fp8' })).rejects.toThrow(/kvCacheDtype must be one of auto, fp8, got "int4"/);
  });
});
