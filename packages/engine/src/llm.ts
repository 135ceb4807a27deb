import { randomInt } from 'node:crypto';
import { CudaBackend } from '@ignis/cuda-kernels';
import { type ModelSpec, buildModelGraph, checkWeights, openModel } from '@ignis/models';
import { type DType, type Graph, compile, dtypeBytes, evalNumel, seed32 } from '@ignis/tensor';
import { BlockAllocator } from './block-allocator.js';
import { type CacheConfig, planCache } from './cache-config.js';
import { type Device, type Placement, type Precision, selectBackend } from './device.js';
import { InvalidParameterError, OutOfGpuMemoryError, PromptTooLongError } from './errors.js';
import { ExecutableRunner, type Runner } from './runner.js';
import { type SamplingParams, resolveSamplingParams } from './sampling/params.js';
import { type FinishReason, type ScheduledSequence, Sequence } from './sequence.js';
import { StopStrings } from './stop-strings.js';
import { IncrementalDetokenizer, type Tokenizer, loadTokenizer } from './tokenizer/index.js';

/** Options for {@link LLM.load}. */
export interface LLMOptions {
  /** Where to run; `auto` picks the GPU when there is one. */
  readonly device?: Device;
  /** Activation precision: `auto` is bf16 on the GPU and f32 on the CPU; `float32` on the GPU is exact but slower. */
  readonly dtype?: Precision;
  /** Fraction of free GPU memory the engine may take (weights, KV cache, activations); default 0.9. */
  readonly gpuMemoryUtilization?: number;
  /** Longest prompt + output; defaults to the model's max_position_embeddings, shrunk to fit the KV budget. */
  readonly maxModelLen?: number;
  /** Most tokens computed in one step; longer prompts are prefilled in chunks of this size. */
  readonly maxNumBatchedTokens?: number;
  /** Tokens per KV-cache block. */
  readonly blockSize?: number;
  /** Bytes the KV cache may take (default: 1 GiB on the CPU; what the GPU has left after the weights). */
  readonly kvCacheBytes?: number;
}

/** The outcome of one {@link LLM.generate} call. */
export interface GenerateResult {
  readonly promptTokenIds: readonly number[];
  /** Generated tokens only (a final end-of-sequence token included). */
  readonly tokenIds: readonly number[];
  /** Generated text (special tokens skipped, stop string excluded); empty when the model has no tokenizer. */
  readonly text: string;
  readonly finishReason: FinishReason;
  /** Milliseconds to the first generated token, and in total. */
  readonly timeToFirstTokenMs: number;
  readonly totalMs: number;
}

const DEFAULT_MAX_NUM_BATCHED_TOKENS = 512;
const DEFAULT_BLOCK_SIZE = 16;
const CPU_KV_CACHE_BYTES = 1 << 30;
/** GPU memory kept free besides weights, KV and the step arena: cuBLASLt workspace, kernel scratch, the CUDA context's own. */
const GPU_HEADROOM_BYTES = 1 << 30;

/** Bytes of every weight of `graph` stored as `dtype`. */
function weightBytes(graph: Graph, dtype: DType): number {
  let bytes = 0;
  for (const v of graph.values) if (v.kind === 'weight') bytes += evalNumel(v.shape, {}) * dtypeBytes(dtype);
  return bytes;
}

/**
 * Bytes for the KV cache: 1 GiB on the CPU; on the GPU, the given fraction of its free memory
 * minus the weights and the largest step's activations (as vLLM's gpu_memory_utilization).
 */
function kvBudget(placement: Placement, graph: Graph, maxNumBatchedTokens: number, utilization: number): number {
  if (!(placement.backend instanceof CudaBackend)) return CPU_KV_CACHE_BYTES;
  if (!(utilization > 0 && utilization <= 1)) {
    throw new InvalidParameterError('gpuMemoryUtilization', `gpuMemoryUtilization must be in (0, 1], got ${utilization}`);
  }
  const { free } = placement.backend.memoryInfo();
  const weights = weightBytes(graph, placement.dtype);
  const activations = compile(graph, { maxDims: { T: maxNumBatchedTokens, S: 1, R: 1, MB: 1 } }).memory.arenaBytes;
  const budget = Math.floor(free * utilization) - weights - activations - GPU_HEADROOM_BYTES;
  if (budget <= 0) {
    const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    throw new OutOfGpuMemoryError(
      `not enough GPU memory: the weights take ${gib(weights)} and the activations ${gib(activations)}, plus ${gib(GPU_HEADROOM_BYTES)} of headroom, and ${gib(free)} are free (gpuMemoryUtilization ${utilization} allows ${gib(free * utilization)})`,
    );
  }
  return budget;
}

/**
 * A loaded model. `generate` runs the step loop: each step computes the gap between a
 * sequence's cached and total tokens (in chunks of `maxNumBatchedTokens`), and the step that
 * reaches the end samples the next token, until a stop rule fires.
 */
export class LLM {
  private nextSequenceId = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: Tokenizer | undefined,
    readonly device: 'cpu' | 'cuda',
    /** The activation dtype the model computes in. */
    readonly dtype: DType,
    readonly cache: CacheConfig,
    private readonly runner: Runner,
    private readonly blocks: BlockAllocator,
    private readonly eosTokenIds: ReadonlySet<number>,
    /** Bytes of all weights as the backend stores them: what every decode step must read. */
    readonly weightBytes: number,
  ) {}

  /** Bytes of K and V one token keeps in the cache, over all layers. */
  get kvBytesPerToken(): number {
    return this.spec.numLayers * 2 * this.spec.numKvHeads * this.spec.headDim * dtypeBytes(this.dtype);
  }

  /**
   * Loads a Hugging Face model directory (config.json, safetensors, optional tokenizer files), or
   * `synthetic:NAME` (random weights of a known shape, e.g. `synthetic:llama-3.1-8b`, no tokenizer).
   */
  static async load(location: string, options: LLMOptions = {}): Promise<LLM> {
    const placement = selectBackend(options.device ?? 'auto', options.dtype ?? 'auto');
    const maxNumBatchedTokens = options.maxNumBatchedTokens ?? DEFAULT_MAX_NUM_BATCHED_TOKENS;
    if (!Number.isSafeInteger(maxNumBatchedTokens) || maxNumBatchedTokens < 1) {
      throw new InvalidParameterError('maxNumBatchedTokens', `maxNumBatchedTokens must be a positive integer, got ${maxNumBatchedTokens}`);
    }
    const model = await openModel(location);
    try {
      const spec = model.spec;
      const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
      const graph = buildModelGraph(spec, { activationDtype: placement.dtype, weightDtype: placement.dtype, blockSize, sample: true });
      checkWeights(graph, model);
      const cache = planCache(spec, {
        blockSize,
        maxNumSeqs: 1,
        kvCacheBytes: options.kvCacheBytes ?? kvBudget(placement, graph, maxNumBatchedTokens, options.gpuMemoryUtilization ?? 0.9),
        maxModelLen: options.maxModelLen,
        elementBytes: dtypeBytes(placement.dtype),
      });
      const plan = compile(graph, { maxDims: { T: maxNumBatchedTokens, S: 1, R: 1, MB: cache.maxBlocksPerSeq } });
      const executable = await placement.backend.load(plan, model.weights(graph), { loadDims: { NB: cache.numBlocks } });
      const limits = { blockSize: cache.blockSize, maxNumBatchedTokens, maxNumSeqs: 1, maxBlocksPerSeq: cache.maxBlocksPerSeq };
      const runner = new ExecutableRunner(executable, limits, placement.device === 'cuda');
      const tokenizer = model.synthetic ? undefined : await loadTokenizer(location);
      const eos = new Set([...spec.eosTokenIds, ...(tokenizer?.eosTokenIds ?? [])]);
      return new LLM(spec, tokenizer, placement.device, placement.dtype, cache, runner, new BlockAllocator(cache.numBlocks), eos, weightBytes(graph, placement.dtype));
    } finally {
      await model.close();
    }
  }

  /** Longest prompt + output this engine accepts. */
  get maxModelLen(): number {
    return this.cache.maxModelLen;
  }

  /**
   * Generates a continuation of `prompt` (text, tokenized with special tokens added, or token
   * ids used as given). Calls are served one at a time, in order.
   */
  generate(prompt: string | readonly number[], params: Partial<SamplingParams> = {}): Promise<GenerateResult> {
    const run = this.queue.then(() => this.generateNow(prompt, params));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Releases the model's memory. */
  dispose(): void {
    this.runner.dispose();
  }

  private async generateNow(prompt: string | readonly number[], given: Partial<SamplingParams>): Promise<GenerateResult> {
    const started = performance.now();
    const params = resolveSamplingParams(given);
    if (params.stop.length > 0 && !this.tokenizer) {
      throw new InvalidParameterError('stop', 'stop strings need a tokenizer, and this model has no tokenizer.json');
    }
    const promptIds = await this.promptIds(prompt);
    const seq = new Sequence(this.nextSequenceId++, promptIds, params, params.seed === undefined ? randomInt(2 ** 32) : seed32(params.seed));
    const detokenizer = this.tokenizer && new IncrementalDetokenizer(this.tokenizer, promptIds, { skipSpecialTokens: true });
    const stops = new StopStrings(params.stop);
    let text = '';
    let firstTokenAt = 0;
    try {
      while (!seq.isFinished) {
        const scheduled = this.schedule(seq);
        const sampled = await this.runner.step({ scheduled: [scheduled] });
        seq.numComputed += scheduled.numNewTokens;
        const token = sampled.get(seq.id);
        if (!token) continue; // a prefill chunk that did not reach the end of the prompt
        if (seq.numOutputTokens === 0) firstTokenAt = performance.now();
        seq.tokenIds.push(token.tokenId);
        const previous = text.length;
        if (detokenizer) text += await detokenizer.push([token.tokenId]);
        this.applyStopRules(seq, token.tokenId);
        if (seq.isFinished && detokenizer) text += await detokenizer.flush();
        const scan = stops.scan(text, previous);
        if (scan.stopAt !== undefined) {
          text = text.slice(0, scan.stopAt);
          seq.finishReason = 'stop';
        }
      }
    } finally {
      this.blocks.release(seq.blocks);
    }
    const finished = performance.now();
    return {
      promptTokenIds: promptIds,
      tokenIds: seq.outputIds,
      text,
      finishReason: seq.finishReason!,
      timeToFirstTokenMs: firstTokenAt - started,
      totalMs: finished - started,
    };
  }

  /** This step's share for `seq`: as many of its uncomputed tokens as fit, with blocks for them. */
  private schedule(seq: Sequence): ScheduledSequence {
    const numNewTokens = Math.min(seq.numTokens - seq.numComputed, this.runner.limits.maxNumBatchedTokens);
    const blocksNeeded = Math.ceil((seq.numComputed + numNewTokens) / this.cache.blockSize) - seq.blocks.length;
    if (blocksNeeded > 0) {
      const blocks = this.blocks.allocate(blocksNeeded);
      if (!blocks) throw new Error(`KV cache exhausted: ${blocksNeeded} blocks needed, ${this.blocks.numFree} free`);
      seq.blocks.push(...blocks);
    }
    return { seq, numNewTokens, sample: seq.numComputed + numNewTokens === seq.numTokens };
  }

  private applyStopRules(seq: Sequence, tokenId: number): void {
    if (!seq.params.ignoreEos && this.eosTokenIds.has(tokenId)) seq.finishReason = 'stop';
    else if (seq.numOutputTokens >= seq.params.maxTokens || seq.numTokens >= this.cache.maxModelLen) seq.finishReason = 'length';
  }

  private async promptIds(prompt: string | readonly number[]): Promise<number[]> {
    let ids: number[];
    if (typeof prompt === 'string') {
      if (!this.tokenizer) throw new InvalidParameterError('prompt', 'a text prompt needs a tokenizer, and this model has no tokenizer.json; pass token ids');
      ids = await this.tokenizer.encode(prompt);
    } else {
      ids = [...prompt];
    }
    if (ids.length === 0) throw new InvalidParameterError('prompt', 'the prompt is empty');
    const bad = ids.find((id) => !Number.isSafeInteger(id) || id < 0 || id >= this.spec.vocabSize);
    if (bad !== undefined) {
      throw new InvalidParameterError('prompt', `token id ${bad} is outside the vocabulary [0, ${this.spec.vocabSize})`);
    }
    if (ids.length >= this.cache.maxModelLen) throw new PromptTooLongError(ids.length, this.cache.maxModelLen);
    return ids;
  }
}
