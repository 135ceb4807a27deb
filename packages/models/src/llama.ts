import { type DType, type Graph, GraphBuilder, GraphError, type Value } from '@ignis/tensor';
import { ropeInverseFrequencies } from './rope.js';
import type { ModelSpec } from './spec.js';

/**
 * The per-step inputs every causal LM graph takes, flattened over the sequences of a step
 * (vLLM's layout). Symbolic sizes: T tokens, S sequences, R logit rows, MB max blocks per sequence.
 */
export const STEP_INPUTS = {
  /** i32 [T]: the tokens to compute. */
  tokenIds: 'token_ids',
  /** i32 [T]: each token's position in its sequence. */
  positions: 'positions',
  /** i32 [T]: the KV-cache slot each token's K/V goes to (block * blockSize + offset). */
  slotMapping: 'slot_mapping',
  /** i32 [S, MB]: each sequence's KV block ids, in order. */
  blockTables: 'block_tables',
  /** i32 [S]: each sequence's length after this step (cached + new tokens). */
  seqLens: 'seq_lens',
  /** i32 [S+1]: prefix sums of new tokens per sequence; sequence s owns rows query_start[s] .. query_start[s+1]-1. */
  queryStart: 'query_start',
  /** i32 [R]: the token rows whose logits are wanted (usually each sequence's last). */
  logitsIndices: 'logits_indices',
  /** f32 [R]: per logit row, the sampling temperature (0: greedy). */
  temperature: 'temperature',
  /** i32 [R]: keep the k most likely tokens (0: all). */
  topK: 'top_k',
  /** f32 [R]: nucleus mass (1: all). */
  topP: 'top_p',
  /** f32 [R]: keep tokens at least this fraction as likely as the most likely (0: all). */
  minP: 'min_p',
  /** i32 [R]: the request's uint32 sampling seed (bits reinterpreted). */
  seed: 'seed',
  /** i32 [R]: the index of the token being sampled in the request's output (the RNG counter). */
  sampleStep: 'sample_step',
  /** i32 [P]: per logit row, the tokens its penalties look at (prompt, then output), rows one after another. */
  penaltyTokens: 'penalty_tokens',
  /** i32 [R+1]: row r's penalty tokens are penalty_tokens[penalty_start[r] .. penalty_start[r+1]-1]. */
  penaltyStart: 'penalty_start',
  /** i32 [R]: where the output tokens begin within a row's penalty tokens. */
  outputStart: 'output_start',
  /** f32 [R]: repetition penalty (1: none). */
  repetitionPenalty: 'repetition_penalty',
  /** f32 [R]: presence penalty (0: none). */
  presencePenalty: 'presence_penalty',
  /** f32 [R]: frequency penalty (0: none). */
  frequencyPenalty: 'frequency_penalty',
} as const;

/** Name of the logits output, f32 [R, vocab]. */
export const LOGITS_OUTPUT = 'logits';
/** Name of the sampled-token output, i32 [R] (graphs built with `sample: true`). */
export const TOKENS_OUTPUT = 'tokens';
/** Name of the sampled tokens' log-probability output, f32 [R]. */
export const LOGPROBS_OUTPUT = 'logprobs';
/** The dimension a step sets to the most top logprobs any of its rows asks for (0: none computed). */
export const TOP_LOGPROBS_DIM = 'L';
/** Names of the top-logprobs outputs, i32 and f32 [R, L]: each row's most likely tokens and their logprobs. */
export const TOP_TOKENS_OUTPUT = 'top_tokens';
export const TOP_LOGPROBS_OUTPUT = 'top_logprobs';

/** Options that shape the graph independently of the model. */
export interface GraphOptions {
  /** Activation dtype: f32 for the reference backend, f32 or bf16 for CUDA. */
  readonly activationDtype: DType;
  /** The dtype weights are stored in by the backend (default: the checkpoint's); loaders convert. */
  readonly weightDtype?: DType;
  /** Tokens per KV-cache block. */
  readonly blockSize: number;
  /**
   * The KV caches' dtype (default: the activation dtype). `fp8e4m3` stores each K/V element as
   * e4m3(x / scale) with the layer's scales from `kvCacheScales` (vLLM's `--kv-cache-dtype fp8`).
   */
  readonly kvCacheDtype?: DType;
  /**
   * Per layer, the fp8 KV cache's K and V scales (a checkpoint's `k_scale`/`v_scale`); one entry
   * per layer. Default: all 1. A float cache takes none but 1.
   */
  readonly kvCacheScales?: readonly { readonly k: number; readonly v: number }[];
  /**
   * End in sampling: penalties, the top logprobs and the `sample` op after the LM head, outputs
   * `tokens`, `logprobs`, `top_tokens` and `top_logprobs` (the logits are then consumed in place
   * and not an output). Without it the graph outputs `logits`.
   */
  readonly sample?: boolean;
}

/**
 * The Llama family (Llama 2/3/3.1/3.2, Mistral, Qwen2) as one graph: pre-norm decoder layers of
 * GQA attention with rotary embeddings over a paged KV cache and a SwiGLU MLP. The differences
 * between the three are data in the spec (biases, head_dim, windows, rope scaling, tied head).
 * Weight names are the Hugging Face checkpoint names.
 */
export function buildLlamaGraph(spec: ModelSpec, options: GraphOptions): Graph {
  const b = new GraphBuilder(spec.architecture);
  const act = options.activationDtype;
  const wdt = options.weightDtype ?? spec.dtype;
  const cacheDtype = options.kvCacheDtype ?? act;
  const cacheScales = options.kvCacheScales;
  if (cacheScales && cacheScales.length !== spec.numLayers) {
    throw new GraphError(`kvCacheScales has ${cacheScales.length} entries; the model has ${spec.numLayers} layers (one {k, v} per layer)`);
  }
  const { hiddenSize: H, headDim: D, numHeads, numKvHeads, intermediateSize: I } = spec;
  const weight = (name: string, shape: number[]): Value => b.weight(name, wdt, shape);
  const linear = (name: string, x: Value, prefix: string, outFeatures: number, inFeatures: number, bias: boolean): Value =>
    b.linear(name, x, weight(`${prefix}.weight`, [outFeatures, inFeatures]), bias ? weight(`${prefix}.bias`, [outFeatures]) : undefined);

  const tokenIds = b.input(STEP_INPUTS.tokenIds, 'i32', ['T']);
  const positions = b.input(STEP_INPUTS.positions, 'i32', ['T']);
  const slotMapping = b.input(STEP_INPUTS.slotMapping, 'i32', ['T']);
  const blockTables = b.input(STEP_INPUTS.blockTables, 'i32', ['S', 'MB']);
  const seqLens = b.input(STEP_INPUTS.seqLens, 'i32', ['S']);
  const queryStart = b.input(STEP_INPUTS.queryStart, 'i32', ['S+1']);
  const logitsIndices = b.input(STEP_INPUTS.logitsIndices, 'i32', ['R']);
  const frequencies = ropeInverseFrequencies(spec.rope, D);
  const ropeFreq = b.constant('rope.inverse_frequencies', 'f32', [frequencies.length], frequencies);
  const embedTable = weight('model.embed_tokens.weight', [spec.vocabSize, H]);
  let h = b.embedding('embed', tokenIds, embedTable, act);

  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    const n1 = b.rmsnorm(`l${i}.attn_norm`, h, weight(`${p}.input_layernorm.weight`, [H]), spec.rmsNormEps);
    const q = linear(`l${i}.q`, n1, `${p}.self_attn.q_proj`, numHeads * D, H, spec.qkvBias);
    const k = linear(`l${i}.k`, n1, `${p}.self_attn.k_proj`, numKvHeads * D, H, spec.qkvBias);
    const v = linear(`l${i}.v`, n1, `${p}.self_attn.v_proj`, numKvHeads * D, H, spec.qkvBias);
    const cacheShape = ['NB', options.blockSize, numKvHeads, D];
    const attention = b.pagedAttention(
      `l${i}.attn`,
      {
        q: b.rope(`l${i}.q_rot`, q, positions, ropeFreq, numHeads, D),
        k: b.rope(`l${i}.k_rot`, k, positions, ropeFreq, numKvHeads, D),
        v,
        kCache: b.state(`l${i}.k_cache`, cacheDtype, cacheShape),
        vCache: b.state(`l${i}.v_cache`, cacheDtype, cacheShape),
        slotMapping,
        blockTables,
        seqLens,
        queryStart,
      },
      {
        numHeads,
        numKvHeads,
        headDim: D,
        scale: 1 / Math.sqrt(D),
        slidingWindow: spec.slidingWindows[i] ?? null,
        kScale: cacheScales?.[i]!.k,
        vScale: cacheScales?.[i]!.v,
      },
    );
    const o = linear(`l${i}.o`, attention, `${p}.self_attn.o_proj`, H, numHeads * D, spec.oBias);
    h = b.add(`l${i}.attn_residual`, h, o);
    const n2 = b.rmsnorm(`l${i}.mlp_norm`, h, weight(`${p}.post_attention_layernorm.weight`, [H]), spec.rmsNormEps);
    const gate = linear(`l${i}.gate`, n2, `${p}.mlp.gate_proj`, I, H, spec.mlpBias);
    const up = linear(`l${i}.up`, n2, `${p}.mlp.up_proj`, I, H, spec.mlpBias);
    const down = linear(`l${i}.down`, b.siluMul(`l${i}.swiglu`, gate, up), `${p}.mlp.down_proj`, H, I, spec.mlpBias);
    h = b.add(`l${i}.mlp_residual`, h, down);
  }

  // Normalizing is per row, so pick the wanted rows first: R rows instead of T.
  const last = b.gatherRows('logit_rows', h, logitsIndices);
  const normed = b.rmsnorm('final_norm', last, weight('model.norm.weight', [H]), spec.rmsNormEps);
  const head = spec.tieWordEmbeddings ? embedTable : weight('lm_head.weight', [spec.vocabSize, H]);
  const logits = b.linear('lm_head', normed, head, undefined, 'f32');
  if (!options.sample) {
    b.output(LOGITS_OUTPUT, logits);
  } else {
    const perRow = (name: string, dtype: DType): Value => b.input(name, dtype, ['R']);
    const [penalized] = b.op('penalties', 'penalized', [
      logits,
      b.input(STEP_INPUTS.penaltyTokens, 'i32', ['P']),
      b.input(STEP_INPUTS.penaltyStart, 'i32', ['R+1']),
      perRow(STEP_INPUTS.outputStart, 'i32'),
      perRow(STEP_INPUTS.repetitionPenalty, 'f32'),
      perRow(STEP_INPUTS.presencePenalty, 'f32'),
      perRow(STEP_INPUTS.frequencyPenalty, 'f32'),
    ], {}); // prettier-ignore
    // Before sampling, which may reuse the logits' memory; logprobs of the penalized logits, as the sampled token's.
    const [topTokens, topLogprobs] = b.op('top_logprobs', 'top_logprobs', [penalized!], { count: TOP_LOGPROBS_DIM });
    b.output(TOP_TOKENS_OUTPUT, topTokens!);
    b.output(TOP_LOGPROBS_OUTPUT, topLogprobs!);
    const [tokens, logprobs] = b.sample('sampler', penalized!, {
      temperature: perRow(STEP_INPUTS.temperature, 'f32'),
      topK: perRow(STEP_INPUTS.topK, 'i32'),
      topP: perRow(STEP_INPUTS.topP, 'f32'),
      minP: perRow(STEP_INPUTS.minP, 'f32'),
      seed: perRow(STEP_INPUTS.seed, 'i32'),
      step: perRow(STEP_INPUTS.sampleStep, 'i32'),
    });
    b.output(TOKENS_OUTPUT, tokens);
    b.output(LOGPROBS_OUTPUT, logprobs);
  }
  return b.build();
}
