import { type DType, type Graph, type SyntheticFill, Tensor, type WeightSource, fmix32, syntheticValue } from '@ignis/tensor';
import { parseModelConfig } from './config.js';
import type { ModelSpec } from './spec.js';

const llama3Rope = (factor: number) => ({ rope_type: 'llama3', rope_theta: 500000, factor, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });

/** Hugging Face configs of well-known shapes, for benchmarks where no checkpoint is at hand. */
export const SYNTHETIC_CONFIGS: Readonly<Record<string, Record<string, unknown>>> = {
  'llama-3.1-8b': {
    architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_parameters: llama3Rope(8),
    dtype: 'bfloat16', bos_token_id: 128000, eos_token_id: [128001, 128008, 128009],
  },
  'llama-3.2-1b': {
    architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, max_position_embeddings: 131072, rms_norm_eps: 1e-5,
    rope_parameters: llama3Rope(32), tie_word_embeddings: true, dtype: 'bfloat16', bos_token_id: 128000, eos_token_id: 128001,
  },
  'mistral-7b': {
    architectures: ['MistralForCausalLM'], hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 128, vocab_size: 32768, max_position_embeddings: 32768, rms_norm_eps: 1e-5,
    rope_parameters: { rope_type: 'default', rope_theta: 1000000 }, sliding_window: null, dtype: 'bfloat16', bos_token_id: 1, eos_token_id: 2,
  },
  'qwen2.5-7b': {
    architectures: ['Qwen2ForCausalLM'], hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28, num_attention_heads: 28,
    num_key_value_heads: 4, vocab_size: 152064, max_position_embeddings: 32768, rms_norm_eps: 1e-6,
    rope_parameters: { rope_type: 'default', rope_theta: 1000000 }, use_sliding_window: false, tie_word_embeddings: false,
    dtype: 'bfloat16', bos_token_id: 151643, eos_token_id: 151645,
  },
}; // prettier-ignore

/** The spec of a named synthetic shape, or an error listing the names. */
export function syntheticSpec(name: string): ModelSpec {
  const config = SYNTHETIC_CONFIGS[name];
  if (!config) throw new RangeError(`unknown synthetic model ${name} (known: ${Object.keys(SYNTHETIC_CONFIGS).join(', ')})`);
  return parseModelConfig(config, `synthetic:${name}`);
}

/**
 * Random weights for every weight of a graph, defined by a stateless hash (`syntheticValue`):
 * a native backend fills them on the device (`synthetic`), the reference backend reads them
 * materialized (`read`), and both get the same values. Matrices are uniform with std 0.02;
 * norm weights are around 1 and biases around 0.
 */
export class SyntheticWeights implements WeightSource {
  private readonly shapes = new Map<string, { dtype: DType; shape: readonly number[] }>();

  constructor(graph: Graph, private readonly seed = 0) {
    for (const v of graph.values) if (v.kind === 'weight') this.shapes.set(v.name, { dtype: v.dtype, shape: v.shape as number[] });
  }

  info(name: string): { dtype: DType; shape: readonly number[] } | undefined {
    return this.shapes.get(name);
  }

  synthetic(name: string): SyntheticFill | undefined {
    const entry = this.shapes.get(name);
    if (!entry) return undefined;
    let seed = fmix32((this.seed ^ 0x5bd1e995) >>> 0);
    for (let i = 0; i < name.length; i++) seed = fmix32((seed ^ name.charCodeAt(i)) >>> 0);
    if (name.endsWith('norm.weight')) return { seed, scale: 0.1, offset: 1 };
    if (name.endsWith('.bias')) return { seed, scale: 0.1, offset: 0 };
    return { seed, scale: 0.02 * Math.sqrt(3), offset: 0 };
  }

  async read(name: string): Promise<Tensor> {
    const entry = this.shapes.get(name);
    const fill = this.synthetic(name);
    if (!entry || !fill) throw new RangeError(`synthetic model has no weight ${name}`);
    const n = entry.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = syntheticValue(fill.seed, i, fill.scale, fill.offset);
    return Tensor.fromValues(entry.dtype, entry.shape, values);
  }
}
