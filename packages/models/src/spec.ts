import type { DType } from '@ignis/tensor';

/** Architectures with a graph builder, by their Hugging Face class name. */
export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM'] as const;

/** One of {@link SUPPORTED_ARCHITECTURES}. */
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** Rotary embedding parameters. */
export interface RopeSpec {
  readonly type: 'default' | 'linear' | 'llama3';
  readonly theta: number;
  /** Fraction of each head's channels that rotate (1 for all current architectures). */
  readonly partialRotaryFactor: number;
  /** linear and llama3: how much the context was stretched. */
  readonly factor?: number;
  /** llama3 only. */
  readonly lowFreqFactor?: number;
  readonly highFreqFactor?: number;
  readonly originalMaxPositionEmbeddings?: number;
}

/** Everything the engine needs to know about a model, from its config.json. */
export interface ModelSpec {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly rope: RopeSpec;
  readonly maxPositionEmbeddings: number;
  readonly tieWordEmbeddings: boolean;
  /** Bias on the q, k and v projections (Qwen2; Llama with attention_bias). */
  readonly qkvBias: boolean;
  /** Bias on the output projection (Llama with attention_bias). */
  readonly oBias: boolean;
  /** Bias on gate, up and down projections (Llama with mlp_bias). */
  readonly mlpBias: boolean;
  /** Per layer: the sliding attention window in tokens, or null for full attention. */
  readonly slidingWindows: readonly (number | null)[];
  /** The dtype the checkpoint was saved in (config `dtype` / `torch_dtype`). */
  readonly dtype: DType;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  /** config.json's `quantization_config` as given (read by @ignis/quantization), if any. */
  readonly quantizationConfig?: unknown;
}
