import { type Backend, DEFAULT_PASSES, type Graph, GraphBuilder, InMemoryWeights, type OpNode, ReferenceBackend, Tensor, compile } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { QuantizedCheckpointWeights } from './checkpoint-weights.js';
import { UnsupportedQuantizationError } from './errors.js';
import { checkpointScheme, describeWeights, planQuantization } from './plan.js';

const channelTokenConfig = {
  quant_method: 'compressed-tensors',
  format: 'float-quantized',
  config_groups: {
    group_0: {
      targets: ['Linear'],
      weights: { num_bits: 8, type: 'float', strategy: 'channel', dynamic: false, symmetric: true },
      input_activations: { num_bits: 8, type: 'float', strategy: 'token', dynamic: true, symmetric: true },
    },
  },
  ignore: ['lm_head'],
};

describe('checkpointScheme', () => {
  it('reads the compressed-tensors and fp8 configs people download', () => {
    expect(checkpointScheme(channelTokenConfig, 'config.json')).toStrictEqual({
      source: 'compressed-tensors float-quantized', weightScale: 'channel', activations: 'dynamic', scaleName: 'weight_scale', kvCacheScales: false,
    }); // prettier-ignore
    const staticTensor = structuredClone(channelTokenConfig);
    staticTensor.config_groups.group_0.weights.strategy = 'tensor';
    Object.assign(staticTensor.config_groups.group_0.input_activations, { strategy: 'tensor', dynamic: false });
    Object.assign(staticTensor, { kv_cache_scheme: { num_bits: 8, type: 'float', strategy: 'tensor', dynamic: false } });
    expect(checkpointScheme(staticTensor, 'config.json')).toMatchObject({ weightScale: 'tensor', activations: 'static', kvCacheScales: true });
    expect(checkpointScheme({ quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] }, 'config.json')).toStrictEqual({
      source: 'fp8 (128x128 blocks)', weightScale: 'block', block: [128, 128], scaleName: 'weight_scale_inv', activations: 'dynamic', kvCacheScales: false,
    }); // prettier-ignore
    expect(checkpointScheme({ quant_method: 'fp8', activation_scheme: 'static' }, 'config.json')).toMatchObject({ weightScale: 'tensor', activations: 'static' });
    expect(checkpointScheme(undefined, 'config.json')).toBeUndefined();
  });

  it('names the field and value of every variant it cannot run', () => {
    const bad = (config: unknown): string => {
      try {
        checkpointScheme(config, 'config.json');
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedQuantizationError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ quant_method: 'awq', bits: 4 })).toBe('config.json: quantization_config.quant_method "awq" is not supported (supported: compressed-tensors, fp8)');
    expect(bad({ ...channelTokenConfig, format: 'pack-quantized' })).toMatch(/quantization_config.format "pack-quantized" is not supported/);
    const dynamicWeights = structuredClone(channelTokenConfig);
    Object.assign(dynamicWeights.config_groups.group_0.weights, { dynamic: true });
    expect(bad(dynamicWeights)).toMatch(/config_groups.group_0.weights.dynamic true is not supported \(supported: false\)/);
    const int8 = structuredClone(channelTokenConfig);
    Object.assign(int8.config_groups.group_0.weights, { type: 'int' });
    expect(bad(int8)).toMatch(/weights.type\/num_bits \["int",8\] is not supported \(supported: float, 8/);
    expect(bad({ quant_method: 'fp8', fmt: 'e5m2' })).toMatch(/quantization_config.fmt "e5m2"/);
    expect(bad({ quant_method: 'fp8', weight_block_size: [128] })).toMatch(/weight_block_size \[128\]/);
  });
});

describe('QuantizedCheckpointWeights', () => {
  const source = InMemoryWeights.of({
    'a.weight': Tensor.fromValues('fp8e4m3', [2, 2], [1, 2, 3, 4]),
    'a.weight_scale': Tensor.fromValues('bf16', [], [0.5]), // per tensor, a scalar
    'a.input_scale': Tensor.fromValues('f32', [], [0.25]),
    'b.weight': Tensor.fromValues('fp8e4m3', [2, 2], [1, 2, 3, 4]),
    'b.weight_scale': Tensor.fromValues('f32', [2, 1], [2, 3]), // per channel, [N, 1]
    'c.weight': Tensor.fromValues('fp8e4m3', [3, 4], Array.from({ length: 12 }, (_, i) => i)),
    'c.weight_scale_inv': Tensor.fromValues('f32', [2, 2], [1, 2, 3, 4]),
  });

  it('presents every scale as f32 under the engine name and shape', async () => {
    const weights = new QuantizedCheckpointWeights(source, { source: 'test', weightScale: 'tensor', scaleName: 'weight_scale', activations: 'static', kvCacheScales: false });
    expect(weights.info('a.weight_scale')).toStrictEqual({ dtype: 'f32', shape: [2] });
    expect([...(await weights.read('a.weight_scale')).data]).toStrictEqual([0.5, 0.5]);
    expect(weights.info('a.input_scale')).toStrictEqual({ dtype: 'f32', shape: [1] });
    expect([...(await weights.read('a.input_scale')).data]).toStrictEqual([0.25]);
    expect(weights.fileRange('a.weight_scale')).toBeUndefined();
    const channel = new QuantizedCheckpointWeights(source, { source: 'test', weightScale: 'channel', scaleName: 'weight_scale', activations: 'dynamic', kvCacheScales: false });
    expect(channel.info('b.weight_scale')).toStrictEqual({ dtype: 'f32', shape: [2] });
    expect([...(await channel.read('b.weight_scale')).data]).toStrictEqual([2, 3]);
  });

  it('reads block scales from weight_scale_inv, and dequantizes a weight per block when asked', async () => {
    const scheme = { source: 'test', weightScale: 'block', block: [2, 2], scaleName: 'weight_scale_inv', activations: 'dynamic', kvCacheScales: false } as const;
    const weights = new QuantizedCheckpointWeights(source, scheme, new Set(['c.weight']));
    expect(weights.info('c.weight_scale')).toStrictEqual({ dtype: 'f32', shape: [2, 2] });
    expect(weights.info('c.weight')).toStrictEqual({ dtype: 'f32', shape: [3, 4] });
    const codes = (await source.read('c.weight')).toF32();
    const expected = [...codes].map((q, i) => q * [1, 2, 3, 4][Math.floor(Math.floor(i / 4) / 2) * 2 + Math.floor((i % 4) / 2)]!);
    expect([...(await weights.read('c.weight')).data]).toStrictEqual(expected);
  });
});

describe('planQuantization', () => {
  /** Two projections of one input and an LM head. */
  function graph(): Graph {
    const b = new GraphBuilder('m');
    const x = b.input('x', 'f32', ['T', 4]);
    const q = b.linear('q', x, b.weight('q.weight', 'f32', [2, 4]));
    const k = b.linear('k', x, b.weight('k.weight', 'f32', [2, 4]));
    b.output('qk', b.add('qk', q, k));
    b.output('logits', b.linear('head', x, b.weight('lm_head.weight', 'f32', [3, 4])));
    return b.build();
  }
  const codes = (values: number[]): Tensor => Tensor.fromValues('fp8e4m3', [2, 4], values);
  const checkpoint = InMemoryWeights.of({
    'q.weight': codes([1, 2, 3, 4, 5, 6, 7, 8]),
    'q.weight_scale': Tensor.fromValues('f32', [2, 1], [0.5, 0.25]),
    'k.weight': codes([8, 7, 6, 5, 4, 3, 2, 1]),
    'k.weight_scale': Tensor.fromValues('f32', [2, 1], [1, 2]),
    'lm_head.weight': Tensor.fromValues('bf16', [3, 4], Array.from({ length: 12 }, (_, i) => i / 10)),
  });
  const run = async (backend: Backend, method: 'auto' | 'none'): Promise<{ described: string; y: number[] }> => {
    const quant = planQuantization({ checkpointConfig: channelTokenConfig, where: 'config.json', method, source: checkpoint, backend });
    const plan = compile(graph(), { maxDims: { T: 1 }, passes: [quant.pass, ...DEFAULT_PASSES] });
    const exe = await new ReferenceBackend().load(plan, quant.weightsFor(plan), { loadDims: {} });
    const out = await exe.run({ dims: { T: 1 }, inputs: { x: Float32Array.from([1, -1, 2, 0.5]) } });
    return { described: describeWeights(plan), y: [...out.qk!.data] };
  };

  it('runs a checkpoint as stored; the LM head stays in float', async () => {
    const { described } = await run(new ReferenceBackend(), 'auto');
    expect(described).toBe('2 x fp8e4m3, channel scales, fp8-token activations; 1 x f32');
  });

  it('falls back to quantizing again at load, then to float, where the backend lacks a kernel for the format', async () => {
    const stored = await run(new ReferenceBackend(), 'auto');
    const noStored: Backend = { name: 'no-stored', supportsOp: (op: OpNode, g: Graph) => !g.values[op.inputs[1]!]?.format || !!g.values[op.inputs[1]!]!.format!.quantizeFrom, load: () => Promise.reject(new Error('unused')) };
    const requantized = await run(noStored, 'auto');
    expect(requantized.described).toBe('2 x fp8e4m3, channel scales, fp8-token activations, quantized at load from f32; 1 x f32');
    const float = await run(new ReferenceBackend(), 'none');
    expect(float.described).toBe('3 x f32');
    // The real values are the same: one quantization step apart at most.
    const real = float.y;
    for (const other of [stored.y, requantized.y]) {
      for (let i = 0; i < real.length; i++) expect(Math.abs(other[i]! - real[i]!)).toBeLessThan(0.1 * Math.abs(real[i]!) + 0.05);
    }
  });
});
