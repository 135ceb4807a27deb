import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { MODEL_CONFIG_LIMITS as LIMITS } from './config-limits.js';
import { parseModelConfig } from './config.js';
import { ModelConfigError, UnsupportedModelError } from './errors.js';
import { type ModelSpec, SUPPORTED_ARCHITECTURES } from './spec.js';
import { SYNTHETIC_CONFIGS } from './synthetic.js';
import { DEMO_MODELS, FIXTURE_MODELS, demoModelPath, fixturePath } from './testing/index.js';

/**
 * Property-based fuzzing of parseModelConfig: random configs, and the real ones (every fixture,
 * the demo models, the synthetic shapes of real models) with keys set to hostile values, removed
 * or added. Whatever the input, the outcome is a ModelSpec within MODEL_CONFIG_LIMITS that
 * builds a graph, or a ModelConfigError or UnsupportedModelError: never another error type, a
 * hang or an allocation sized by a hostile value. Seeded, so that CI runs the same cases every
 * time (a failure prints its seed and shrunk case).
 */
const RUNS = 1000;
type Json = Record<string, unknown>;

const REAL_CONFIGS: readonly Json[] = [
  ...[...FIXTURE_MODELS.map(fixturePath), ...DEMO_MODELS.map(demoModelPath)].map((dir) => JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')) as Json),
  ...Object.values(SYNTHETIC_CONFIGS),
];

/** The keys the parser reads: most edits go to them. */
const PARSED_KEYS = [
  ...['architectures', 'model_type', 'hidden_act', 'hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'num_hidden_layers'],
  ...['vocab_size', 'intermediate_size', 'rms_norm_eps', 'max_position_embeddings', 'tie_word_embeddings', 'attention_bias', 'mlp_bias'],
  ...['sliding_window', 'use_sliding_window', 'max_window_layers', 'layer_types', 'dtype', 'torch_dtype', 'bos_token_id', 'eos_token_id'],
  ...['rope_parameters', 'rope_scaling', 'rope_theta', 'partial_rotary_factor'],
];
/** Any key: those, the others real configs carry, names of Object's own properties, random ones. */
const key = fc.oneof(
  { arbitrary: fc.constantFrom(...PARSED_KEYS), weight: 4 },
  fc.constantFrom(...new Set(REAL_CONFIGS.flatMap((c) => Object.keys(c)))),
  fc.constantFrom('__proto__', 'constructor', 'toString'),
  fc.string({ maxLength: 4 }),
);
const ROPE_KEYS = ['rope_type', 'type', 'rope_theta', 'factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings', 'partial_rotary_factor'];

/** Values a hostile config may hold where a number, a name or a list belongs. */
const hostileNumber = fc.oneof(
  fc.integer({ min: -4, max: 70_000 }),
  fc.constantFrom(1e6, 1e9, 1e12, 2 ** 24, 2 ** 24 + 1, 2 ** 53, 1e300, -1, 0, 0.5, 1.5, 2 ** 31),
  fc.double({ noNaN: true }),
);
const name = fc.oneof(
  fc.constantFrom('llama', 'mistral', 'qwen2', 'LlamaForCausalLM', 'Qwen2ForCausalLM', 'silu', 'gelu', 'bfloat16', 'float64', 'linear', 'llama3', 'yarn'),
  fc.constantFrom('default', 'full_attention', 'sliding_attention'),
  fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'), // lookups in plain objects find these
  fc.string({ maxLength: 5 }),
);
const value: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileNumber, weight: 3 },
  { arbitrary: name, weight: 3 },
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(hostileNumber, name), { maxLength: 4 }),
  fc.dictionary(fc.constantFrom(...ROPE_KEYS), fc.oneof(hostileNumber, name), { maxKeys: 5 }),
);

/** One edit of a config: a key set or removed, or a rope parameter set. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('rope' as const), key: fc.constantFrom(...ROPE_KEYS), value: fc.oneof(hostileNumber, name) }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

function edited(config: Json, edits: readonly Edit[]): Json {
  const copy = structuredClone(config);
  for (const e of edits) {
    if (e.kind === 'delete') delete copy[e.key];
    else if (e.kind === 'set') Object.defineProperty(copy, e.key, { value: e.value, enumerable: true, configurable: true, writable: true });
    else {
      const rope = (copy.rope_parameters ?? copy.rope_scaling) as Json | null | undefined;
      if (typeof rope === 'object' && rope !== null && !Array.isArray(rope)) rope[e.key] = e.value;
    }
  }
  return copy;
}

/** A spec's promises, checked from scratch against the limits. */
function expectWithinLimits(spec: ModelSpec): void {
  const sizes: [number, number][] = [
    [spec.numLayers, LIMITS.num_hidden_layers],
    [spec.hiddenSize, LIMITS.hidden_size],
    [spec.numHeads, LIMITS.num_attention_heads],
    [spec.numKvHeads, LIMITS.num_key_value_heads],
    [spec.headDim, LIMITS.head_dim],
    [spec.intermediateSize, LIMITS.intermediate_size],
    [spec.vocabSize, LIMITS.vocab_size],
    [spec.maxPositionEmbeddings, LIMITS.max_position_embeddings],
    ...spec.slidingWindows.flatMap((w): [number, number][] => (w === null ? [] : [[w, LIMITS.max_position_embeddings]])),
  ];
  for (const [size, max] of sizes) expect(Number.isSafeInteger(size) && size >= 1 && size <= max, `${size} in [1, ${max}]`).toBe(true);
  expect(SUPPORTED_ARCHITECTURES).toContain(spec.architecture);
  expect(['f32', 'f16', 'bf16']).toContain(spec.dtype);
  expect(spec.numHeads % spec.numKvHeads).toBe(0);
  expect(spec.slidingWindows).toHaveLength(spec.numLayers);
  for (const id of [...spec.eosTokenIds, ...(spec.bosTokenId === undefined ? [] : [spec.bosTokenId])]) {
    expect(Number.isSafeInteger(id) && id >= 0 && id < spec.vocabSize, `token id ${id}`).toBe(true);
  }
  const { theta, partialRotaryFactor, factor } = spec.rope;
  expect(theta > 0 && Number.isFinite(theta) && spec.rmsNormEps > 0 && Number.isFinite(spec.rmsNormEps)).toBe(true);
  expect(partialRotaryFactor > 0 && partialRotaryFactor <= 1 && (factor === undefined || (factor > 0 && Number.isFinite(factor)))).toBe(true);
  expect(Math.floor(spec.headDim * partialRotaryFactor) % 2).toBe(0);
}

/** Parses `raw`: a spec within the limits that builds a graph, or one of the two config errors. */
function parsesSoundly(raw: unknown): boolean {
  let spec: ModelSpec;
  try {
    spec = parseModelConfig(raw, 'fuzz/config.json');
  } catch (error) {
    if (!(error instanceof ModelConfigError || error instanceof UnsupportedModelError)) throw error;
    expect(error.message).toMatch(/^fuzz\/config\.json/);
    return false;
  }
  expectWithinLimits(spec);
  buildModelGraph(spec, { activationDtype: 'f32', blockSize: 16 });
  return true;
}

describe('parseModelConfig, fuzzed', () => {
  it('every real config parses within the limits', () => {
    for (const config of REAL_CONFIGS) expect(parsesSoundly(config)).toBe(true);
  });

  it('random JSON: a spec within the limits or a config error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(key, value, { maxKeys: 12 })), (raw) => {
        parsesSoundly(raw);
      }),
      { seed: 18, numRuns: RUNS },
    );
  });

  it('real configs with keys set to hostile values, removed or added: a spec within the limits or a config error', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...REAL_CONFIGS), fc.array(edit, { maxLength: 4 }), (config, edits) => {
        if (parsesSoundly(edited(config, edits))) accepted++;
      }),
      { seed: 18, numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(RUNS / 10); // the valid path is exercised too, not only refusals
  });
});
