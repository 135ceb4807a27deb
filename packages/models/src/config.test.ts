import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from './config.js';
import { ModelConfigError, UnsupportedModelError } from './errors.js';
import { ropeInverseFrequencies } from './rope.js';
import { type FixtureModel, fixturePath } from './testing/index.js';

const fixtureConfig = (name: FixtureModel): Record<string, unknown> =>
  JSON.parse(readFileSync(`${fixturePath(name)}/config.json`, 'utf8')) as Record<string, unknown>;

/** The smallest valid Llama config, for tests that change one key. */
const base = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 100,
};

describe('parseModelConfig on configs saved by transformers 5', () => {
  it('reads the transformers 5 spelling (rope_parameters, dtype)', () => {
    const spec = parseModelConfig(fixtureConfig('llama3-gqa-sharded'));
    expect(spec).toMatchObject({
      architecture: 'LlamaForCausalLM',
      numKvHeads: 2,
      headDim: 16,
      dtype: 'bf16',
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 131072,
      rope: { type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    });
  });

  it('reads the older spelling (rope_scaling, rope_theta, torch_dtype)', () => {
    const spec = parseModelConfig(fixtureConfig('llama2-mha-linear-legacy'));
    expect(spec).toMatchObject({ numKvHeads: 4, dtype: 'f16', rope: { type: 'linear', theta: 10000, factor: 2 } });
  });

  it('gives the same spec for one config in both spellings', () => {
    const legacy = fixtureConfig('llama32-tied-legacy');
    const modern: Record<string, unknown> = { ...legacy };
    modern.rope_parameters = { ...(legacy.rope_scaling as object), rope_theta: legacy.rope_theta };
    modern.dtype = legacy.torch_dtype;
    for (const key of ['rope_scaling', 'rope_theta', 'torch_dtype']) delete modern[key];
    expect(parseModelConfig(modern)).toEqual(parseModelConfig(legacy));
  });

  it('Mistral: explicit head_dim and a sliding window on every layer', () => {
    const spec = parseModelConfig(fixtureConfig('mistral-headdim-window'));
    expect(spec).toMatchObject({ architecture: 'MistralForCausalLM', headDim: 32, numKvHeads: 1, slidingWindows: [8, 8], dtype: 'f32' });
  });

  it('Qwen2: q/k/v bias without o bias, tied embeddings, no window when use_sliding_window is false', () => {
    const spec = parseModelConfig(fixtureConfig('qwen2-bias-tied'));
    expect(spec).toMatchObject({ qkvBias: true, oBias: false, tieWordEmbeddings: true, slidingWindows: [null, null] });
  });

  it('Qwen2 without layer_types: windows from max_window_layers when use_sliding_window is true', () => {
    const config = { ...base, architectures: ['Qwen2ForCausalLM'], num_hidden_layers: 3, use_sliding_window: true, sliding_window: 32, max_window_layers: 1 };
    expect(parseModelConfig(config).slidingWindows).toEqual([null, 32, 32]);
  });
});

describe('parseModelConfig errors name what was expected and what was found', () => {
  it('unknown architecture', () => {
    expect(() => parseModelConfig({ ...base, architectures: ['GPT2LMHeadModel'] }, 'm/config.json')).toThrow(
      /m\/config.json: unsupported architecture "GPT2LMHeadModel" \(supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM\)/,
    );
    expect(() => parseModelConfig({ ...base, architectures: ['GPT2LMHeadModel'] })).toThrow(UnsupportedModelError);
  });

  it('missing and malformed keys', () => {
    const { hidden_size: _unused, ...noHidden } = base;
    expect(() => parseModelConfig(noHidden)).toThrow(/missing hidden_size/);
    expect(() => parseModelConfig({ ...base, num_attention_heads: 0 })).toThrow(/num_attention_heads must be an integer in \[1, 1024\], got 0/);
    expect(() => parseModelConfig({ ...base, num_key_value_heads: 3 })).toThrow(/4 is not a multiple of num_key_value_heads 3/);
    expect(() => parseModelConfig([])).toThrow(ModelConfigError);
  });

  it('sizes outside their limits, each named with the value and the range', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ num_hidden_layers: 1e9 }, /num_hidden_layers must be an integer in \[1, 1024\], got 1000000000$/],
      [{ num_hidden_layers: 1e6 }, /num_hidden_layers must be an integer in \[1, 1024\], got 1000000$/],
      [{ head_dim: 1e9 }, /head_dim must be an integer in \[1, 1024\], got 1000000000$/],
      [{ hidden_size: 65_537 * 4, num_attention_heads: 4 }, /hidden_size must be an integer in \[1, 65536\], got 262148$/],
      [{ num_attention_heads: 2048, head_dim: 16 }, /num_attention_heads must be an integer in \[1, 1024\], got 2048$/],
      [{ num_key_value_heads: 4096 }, /num_key_value_heads must be an integer in \[1, 1024\], got 4096$/],
      [{ intermediate_size: 2 ** 19 }, /intermediate_size must be an integer in \[1, 262144\], got 524288$/],
      [{ vocab_size: 2 ** 23 }, /vocab_size must be an integer in \[1, 4194304\], got 8388608$/],
      [{ max_position_embeddings: 1e12 }, /max_position_embeddings must be an integer in \[1, 16777216\], got 1000000000000$/],
      [{ architectures: ['MistralForCausalLM'], sliding_window: 2 ** 25 }, /sliding_window must be an integer in \[1, 16777216\], got 33554432$/],
      [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 1e15 } }, /original_max_position_embeddings must be an integer in \[1, 16777216\], got 1000000000000000$/],
      [{ partial_rotary_factor: 1.5 }, /partial_rotary_factor must be a number in \(0, 1\], got 1.5$/],
      [{ head_dim: 15 }, /head_dim 15 x partial_rotary_factor 1 gives 15 rotary channels; rope needs an even number/],
    ];
    for (const [change, message] of cases) {
      expect(() => parseModelConfig({ ...base, ...change }), JSON.stringify(change)).toThrow(ModelConfigError);
      expect(() => parseModelConfig({ ...base, ...change }), JSON.stringify(change)).toThrow(message);
    }
  });

  it('token ids outside the vocabulary', () => {
    expect(() => parseModelConfig({ ...base, eos_token_id: 99999 })).toThrow(ModelConfigError);
    expect(() => parseModelConfig({ ...base, eos_token_id: 99999 })).toThrow(/eos_token_id must be a token id in \[0, 100\) \(vocab_size 100\) or a list of them, got 99999$/);
    expect(() => parseModelConfig({ ...base, eos_token_id: [2, 100] })).toThrow(/eos_token_id must be a token id in \[0, 100\).*, got \[2,100\]$/);
    expect(() => parseModelConfig({ ...base, bos_token_id: -1 })).toThrow(/bos_token_id must be a token id in \[0, 100\)/);
    expect(parseModelConfig({ ...base, bos_token_id: 0, eos_token_id: [98, 99] })).toMatchObject({ bosTokenId: 0, eosTokenIds: [98, 99] });
  });

  it('a model_type or dtype that names an Object property is unsupported, not a crash', () => {
    const { architectures: _unused, ...untyped } = base;
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(() => parseModelConfig({ ...untyped, model_type: name })).toThrow(UnsupportedModelError);
      expect(() => parseModelConfig({ ...base, torch_dtype: name })).toThrow(/dtype "[a-zA-Z_]+" is not supported/);
    }
  });

  it('unsupported rope type, activation and dtype', () => {
    expect(() => parseModelConfig({ ...base, rope_scaling: { type: 'yarn', factor: 4 } })).toThrow(/rope type "yarn" is not supported/);
    expect(() => parseModelConfig({ ...base, hidden_act: 'gelu' })).toThrow(/hidden_act "gelu" is not supported/);
    expect(() => parseModelConfig({ ...base, torch_dtype: 'float64' })).toThrow(/dtype "float64" is not supported/);
    expect(() => parseModelConfig({ ...base, rope_parameters: { rope_type: 'llama3', factor: 8 } })).toThrow(/missing low_freq_factor/);
  });
});

describe('ropeInverseFrequencies', () => {
  it('default: theta^(-2i/d), hand-computed', () => {
    const inv = ropeInverseFrequencies({ type: 'default', theta: 10000, partialRotaryFactor: 1 }, 4);
    expect(inv).toEqual([1, Math.fround(1 / 100)]);
  });

  it('llama3: keeps high frequencies, divides low ones by the factor, blends the band between', () => {
    const rope = { type: 'llama3' as const, theta: 10000, partialRotaryFactor: 1, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };
    const plain = ropeInverseFrequencies({ type: 'default', theta: 10000, partialRotaryFactor: 1 }, 16);
    const scaled = ropeInverseFrequencies(rope, 16);
    plain.forEach((f, i) => {
      const wavelength = (2 * Math.PI) / f;
      if (wavelength < 64 / 4) expect(scaled[i]).toBe(f); // high frequency: unchanged
      else if (wavelength > 64 / 1) expect(scaled[i]).toBeCloseTo(f / 8, 12); // low frequency: divided
      else {
        const smooth = (64 / wavelength - 1) / (4 - 1);
        expect(scaled[i]).toBeCloseTo((1 - smooth) * (f / 8) + smooth * f, 6);
      }
    });
    expect(new Set(scaled.map((f, i) => f === plain[i])).size).toBe(2); // both regimes occur
  });
});
