import type { DType } from '@ignis/tensor';
import { MODEL_CONFIG_LIMITS as LIMITS } from './config-limits.js';
import { ModelConfigError, UnsupportedModelError } from './errors.js';
import { type Architecture, type ModelSpec, type RopeSpec, SUPPORTED_ARCHITECTURES } from './spec.js';

type Json = Record<string, unknown>;

const ARCHITECTURE_BY_MODEL_TYPE: Readonly<Record<string, Architecture>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

/** Defaults that differ per architecture, as the Hugging Face config classes set them. */
const DEFAULTS: Readonly<Record<Architecture, { maxPositionEmbeddings: number; rmsNormEps: number }>> = {
  LlamaForCausalLM: { maxPositionEmbeddings: 2048, rmsNormEps: 1e-6 },
  MistralForCausalLM: { maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-6 },
  Qwen2ForCausalLM: { maxPositionEmbeddings: 32768, rmsNormEps: 1e-6 },
};

const DTYPE_NAMES: Readonly<Record<string, DType>> = {
  float32: 'f32',
  float16: 'f16',
  bfloat16: 'bf16',
};

/**
 * Reads a Hugging Face config.json into a {@link ModelSpec}. Accepts both spellings found in
 * the wild: `rope_scaling` + top-level `rope_theta` + `torch_dtype` (transformers 4) and
 * `rope_parameters` + `dtype` (transformers 5). Every size is checked against
 * {@link MODEL_CONFIG_LIMITS} and every token id against the vocabulary before anything is sized
 * from them. `source` names the file in errors.
 */
export function parseModelConfig(raw: unknown, source = 'config.json'): ModelSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelConfigError(`${source}: expected a JSON object`);
  }
  const config = raw as Json;
  const read = new ConfigReader(config, source);
  const architecture = readArchitecture(config, source);
  const defaults = DEFAULTS[architecture];

  const hiddenAct = config.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') {
    throw new UnsupportedModelError(`${source}: hidden_act ${JSON.stringify(hiddenAct)} is not supported (supported: silu)`);
  }
  const hiddenSize = read.size('hidden_size');
  const numHeads = read.size('num_attention_heads');
  const numKvHeads = read.size('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelConfigError(`${source}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const headDim = config.head_dim === undefined || config.head_dim === null ? exactHeadDim(hiddenSize, numHeads, source) : read.size('head_dim');
  const numLayers = read.size('num_hidden_layers');
  const vocabSize = read.size('vocab_size');
  const attentionBias = read.bool('attention_bias', false);
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const rope = readRope(config, read, source);
  checkRotaryDim(headDim, rope.partialRotaryFactor, source);

  return {
    architecture,
    vocabSize,
    hiddenSize,
    intermediateSize: read.size('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: read.positiveNumber('rms_norm_eps', defaults.rmsNormEps),
    rope,
    maxPositionEmbeddings: read.size('max_position_embeddings', defaults.maxPositionEmbeddings),
    tieWordEmbeddings: read.bool('tie_word_embeddings', false),
    qkvBias: isQwen2 || attentionBias,
    oBias: !isQwen2 && attentionBias,
    mlpBias: read.bool('mlp_bias', false),
    slidingWindows: readSlidingWindows(config, read, architecture, numLayers, source),
    dtype: readDtype(config, source),
    bosTokenId: read.optionalTokenIds('bos_token_id', vocabSize)[0],
    eosTokenIds: read.optionalTokenIds('eos_token_id', vocabSize),
    ...(config.quantization_config === undefined || config.quantization_config === null ? {} : { quantizationConfig: config.quantization_config }),
  };
}

function readArchitecture(config: Json, source: string): Architecture {
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  const listed = config.architectures;
  if (Array.isArray(listed) && listed.length > 0) {
    const name = listed[0];
    if (!(SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(name)) {
      throw new UnsupportedModelError(`${source}: unsupported architecture ${JSON.stringify(name)} (supported: ${supported})`);
    }
    return name as Architecture;
  }
  const byType = typeof config.model_type === 'string' ? ownValue(ARCHITECTURE_BY_MODEL_TYPE, config.model_type) : undefined;
  if (!byType) {
    throw new UnsupportedModelError(
      `${source}: no supported architecture: architectures is ${JSON.stringify(listed)} and model_type is ${JSON.stringify(config.model_type)} (supported: ${supported})`,
    );
  }
  return byType;
}

/** `table[key]` when the table has that key itself: `constructor` or `__proto__` are not names in it. */
function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Rope rotates channel pairs (j, j + dim/2): the rotary dimension must be even. */
function checkRotaryDim(headDim: number, partialRotaryFactor: number, source: string): void {
  const dim = Math.floor(headDim * partialRotaryFactor);
  if (dim % 2 !== 0) {
    throw new ModelConfigError(`${source}: head_dim ${headDim} x partial_rotary_factor ${partialRotaryFactor} gives ${dim} rotary channels; rope needs an even number`);
  }
}

function exactHeadDim(hiddenSize: number, numHeads: number, source: string): number {
  if (hiddenSize % numHeads !== 0) {
    throw new ModelConfigError(`${source}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}; set head_dim`);
  }
  return hiddenSize / numHeads;
}

/** Rope settings from `rope_parameters` (transformers 5) or `rope_scaling` + `rope_theta` (older). */
function readRope(config: Json, read: ConfigReader, source: string): RopeSpec {
  const params = config.rope_parameters ?? config.rope_scaling ?? null;
  if (params !== null && (typeof params !== 'object' || Array.isArray(params))) {
    throw new ModelConfigError(`${source}: rope_parameters/rope_scaling must be an object or null`);
  }
  const p = new ConfigReader((params ?? {}) as Json, `${source} rope parameters`);
  const theta = p.positiveNumber('rope_theta', read.positiveNumber('rope_theta', 10000));
  const partialRotaryFactor = p.fraction('partial_rotary_factor', read.fraction('partial_rotary_factor', 1));
  const rawType = (params as Json | null)?.rope_type ?? (params as Json | null)?.type ?? 'default';
  switch (rawType) {
    case 'default':
      return { type: 'default', theta, partialRotaryFactor };
    case 'linear':
      return { type: 'linear', theta, partialRotaryFactor, factor: p.positiveNumber('factor') };
    case 'llama3':
      return {
        type: 'llama3',
        theta,
        partialRotaryFactor,
        factor: p.positiveNumber('factor'),
        lowFreqFactor: p.positiveNumber('low_freq_factor'),
        highFreqFactor: p.positiveNumber('high_freq_factor'),
        originalMaxPositionEmbeddings: p.size('original_max_position_embeddings', undefined, 'max_position_embeddings'),
      };
    default:
      throw new UnsupportedModelError(`${source}: rope type ${JSON.stringify(rawType)} is not supported (supported: default, linear, llama3)`);
  }
}

/**
 * Per-layer attention windows. `layer_types` (transformers 5) wins when present; otherwise
 * Mistral applies `sliding_window` to every layer, and Qwen2 to layers from `max_window_layers`
 * on, only when `use_sliding_window` is true. Llama has none.
 */
function readSlidingWindows(
  config: Json,
  read: ConfigReader,
  architecture: Architecture,
  numLayers: number,
  source: string,
): (number | null)[] {
  const window = config.sliding_window === undefined || config.sliding_window === null ? null : read.size('sliding_window', undefined, 'max_position_embeddings');
  const layerTypes = config.layer_types;
  if (Array.isArray(layerTypes)) {
    if (layerTypes.length !== numLayers) {
      throw new ModelConfigError(`${source}: layer_types has ${layerTypes.length} entries for ${numLayers} layers`);
    }
    return layerTypes.map((type, i) => {
      if (type === 'full_attention') return null;
      if (type === 'sliding_attention') {
        if (window === null) throw new ModelConfigError(`${source}: layer ${i} is sliding_attention but sliding_window is not set`);
        return window;
      }
      throw new UnsupportedModelError(`${source}: layer type ${JSON.stringify(type)} is not supported (supported: full_attention, sliding_attention)`);
    });
  }
  switch (architecture) {
    case 'MistralForCausalLM':
      return new Array<number | null>(numLayers).fill(window);
    case 'Qwen2ForCausalLM': {
      if (!read.bool('use_sliding_window', false) || window === null) return new Array<number | null>(numLayers).fill(null);
      const first = read.nonNegativeInt('max_window_layers', numLayers);
      return Array.from({ length: numLayers }, (_, i) => (i >= first ? window : null));
    }
    case 'LlamaForCausalLM':
      return new Array<number | null>(numLayers).fill(null);
  }
}

function readDtype(config: Json, source: string): DType {
  const name = config.dtype ?? config.torch_dtype ?? 'float32';
  const dtype = typeof name === 'string' ? ownValue(DTYPE_NAMES, name) : undefined;
  if (!dtype) {
    throw new UnsupportedModelError(`${source}: dtype ${JSON.stringify(name)} is not supported (supported: ${Object.keys(DTYPE_NAMES).join(', ')})`);
  }
  return dtype;
}

/** Typed access to config keys, with errors that name the file and the key. */
class ConfigReader {
  constructor(
    private readonly config: Json,
    private readonly source: string,
  ) {}

  /** A size of the model: an integer from 1 to its limit in MODEL_CONFIG_LIMITS (`limitKey`'s, when given). */
  size(key: string, fallback?: number, limitKey: keyof typeof LIMITS = key as keyof typeof LIMITS): number {
    const max = LIMITS[limitKey];
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) this.fail(key, `an integer in [1, ${max}]`, value);
    return value;
  }

  nonNegativeInt(key: string, fallback?: number): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(key, 'a non-negative integer', value);
    return value;
  }

  positiveNumber(key: string, fallback?: number): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(key, 'a positive number', value);
    return value;
  }

  /** A number in (0, 1]. */
  fraction(key: string, fallback?: number): number {
    const value = this.get(key, fallback);
    if (typeof value !== 'number' || !(value > 0 && value <= 1)) this.fail(key, 'a number in (0, 1]', value);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.get(key, fallback);
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
    return value;
  }

  /** A token id, a list of them, or nothing; every id within the vocabulary. */
  optionalTokenIds(key: string, vocabSize: number): number[] {
    const value = this.config[key];
    if (value === undefined || value === null) return [];
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
        this.fail(key, `a token id in [0, ${vocabSize}) (vocab_size ${vocabSize}) or a list of them`, value);
      }
    }
    return ids as number[];
  }

  private get(key: string, fallback: unknown): unknown {
    const value = this.config[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) throw new ModelConfigError(`${this.source}: missing ${key}`);
      return fallback;
    }
    return value;
  }

  private fail(key: string, expected: string, value: unknown): never {
    const shown = JSON.stringify(value) ?? String(value);
    throw new ModelConfigError(`${this.source}: ${key} must be ${expected}, got ${shown.length > 100 ? `${shown.slice(0, 100)}...` : shown}`);
  }
}
