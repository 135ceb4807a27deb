import { randomInt } from 'node:crypto';
import { CudaBackend } from '@ignis/cuda-kernels';
import { KvCacheManager } from '@ignis/kv-cache';
import { type ModelSource, type ModelSpec, TOP_LOGPROBS_DIM, buildModelGraph, checkFiniteWeights, checkWeights, openModel } from '@ignis/models';
import { type KvCacheScales, type QuantizationMethod, describeWeights, planQuantization, readKvCacheScales } from '@ignis/quantization';
import { Scheduler } from '@ignis/scheduler';
import { DEFAULT_PASSES, type DType, type Graph, compile, completionSeed, dtypeBytes, evalNumel, weightCompanions } from '@ignis/tensor';
import { AsyncQueue } from './async-queue.js';
import { type CacheConfig, planCache } from './cache-config.js';
import type { CompletionDelta, CompletionOutput } from './completion.js';
import { type Device, type Placement, type Precision, selectBackend } from './device.js';
import { type EngineEvents, EngineCore, type Outcome, type RequestMetrics } from './engine-core.js';
import { InvalidParameterError, OutOfGpuMemoryError, PromptTooLongError } from './errors.js';
import { availableHostMemory, checkMemoryFits, gib } from './memory-fit.js';
import { Request } from './request.js';
import { ExecutableRunner } from './runner.js';
import { MAX_TOP_LOGPROBS, type SamplingParams, resolveSamplingParams } from './sampling/params.js';
import { type Tokenizer, loadTokenizer } from './tokenizer/index.js';

/** Options for {@link LLM.load}. */
export interface LLMOptions {
  /** Where to run; `auto` picks the GPU when there is one. */
  readonly device?: Device;
  /** Activation precision: `auto` is bf16 on the GPU and f32 on the CPU; `float32` on the GPU is exact but slower. */
  readonly dtype?: Precision;
  /**
   * Linear layers' weights: `auto` runs a quantized checkpoint as its `quantization_config` says
   * (FP8: compressed-tensors or fp8 block) and others unquantized; `fp8` also quantizes a float
   * checkpoint's linear weights (all but the LM head) to FP8 at load, with per-token FP8
   * activations (W8A8); `none` runs unquantized (FP8 weights are dequantized at load).
   */
  readonly quantization?: QuantizationMethod;
  /**
   * KV-cache elements: `auto` stores them in the activation dtype; `fp8` in e4m3 (vLLM's
   * `--kv-cache-dtype fp8`): half the bytes of bf16, so about twice the tokens fit, with each
   * layer's k_scale/v_scale from the checkpoint (1.0 where it has none).
   */
  readonly kvCacheDtype?: KvCacheDtype;
  /** Fraction of free GPU memory the engine may take (weights, KV cache, activations); default 0.9. */
  readonly gpuMemoryUtilization?: number;
  /** Longest prompt + output; defaults to the model's max_position_embeddings, shrunk to fit the KV budget. */
  readonly maxModelLen?: number;
  /** Most tokens computed in one step; longer prompts are prefilled in chunks (default 256 on the CPU, 8192 on the GPU). */
  readonly maxNumBatchedTokens?: number;
  /** Most sequences in one step (default 16 on the CPU, 256 on the GPU). */
  readonly maxNumSeqs?: number;
  /** Tokens per KV-cache block (default 16). */
  readonly blockSize?: number;
  /** Bytes the KV cache may take (default: 1 GiB on the CPU; what the GPU has left after the weights). */
  readonly kvCacheBytes?: number;
  /** Reuse the KV of prompt prefixes already computed (default true). */
  readonly enablePrefixCaching?: boolean;
  /** Which waiting requests go first: arrival order, or `priority` (lower first). */
  readonly schedulingPolicy?: 'fcfs' | 'priority';
  /**
   * Read every weight once more before loading to check that none is NaN or infinite (default
   * false: a sample of every tensor is checked at every load; see `WEIGHT_SAMPLE` in @ignis/models).
   */
  readonly checkWeights?: boolean;
  /** Metrics hooks. */
  readonly events?: EngineEvents;
}

/** What the KV cache stores: the activation dtype, or FP8 e4m3. */
export type KvCacheDtype = 'auto' | 'fp8';

/** The KV-cache dtypes, for option parsers. */
export const KV_CACHE_DTYPES: readonly KvCacheDtype[] = ['auto', 'fp8'];

export { type QuantizationMethod, QUANTIZATION_METHODS } from '@ignis/quantization';

/** Per-request options besides sampling. */
export interface RequestOptions {
  /** Under the `priority` policy, lower runs first (default 0). */
  readonly priority?: number;
  /** Requests with different salts never share cached prefixes. */
  readonly cacheSalt?: string;
}

/** The outcome of one prompt: its n completions (the first one's fields repeated at the top level). */
export interface GenerateResult extends CompletionOutput {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  readonly outputs: readonly CompletionOutput[];
  /** Per completion, in index order. */
  readonly metrics: readonly RequestMetrics[];
  /** Arrival to the first completion's first token, and to the last completion's end (ms). */
  readonly timeToFirstTokenMs: number;
  readonly totalMs: number;
}

/** A submitted prompt: iterate it for deltas, await `result`, or `abort()` it. */
export interface RequestHandle extends AsyncIterable<CompletionDelta> {
  readonly requestId: string;
  readonly result: Promise<GenerateResult>;
  abort(): void;
}

/** What the engine holds now, and counters since load. */
export interface EngineStats {
  readonly waiting: number;
  readonly running: number;
  /** Fraction of KV blocks requests hold (cached prefixes no request holds count as free). */
  readonly kvCacheUsage: number;
  /** KV blocks in the pool (the null block excluded), free ones (cached or not), and cached ones. */
  readonly kvBlocks: number;
  readonly freeKvBlocks: number;
  readonly cachedKvBlocks: number;
  /** Prompt tokens of admitted requests (a preempted request's tokens count again when readmitted), and those taken from the prefix cache. */
  readonly promptTokens: number;
  readonly reusedPromptTokens: number;
  readonly preemptions: number;
  /** Steps run, and tokens computed in them (prefill and decode). */
  readonly steps: number;
  readonly computedTokens: number;
}

// 256 tokens a step on the CPU: a step yields between ops, and an op of a 256-token step holds the
// event loop about 0.1 s on the demo model (512: 0.19 s) for ~3% more time in all.
const CPU_DEFAULTS = { maxNumBatchedTokens: 256, maxNumSeqs: 16 };
const GPU_DEFAULTS = { maxNumBatchedTokens: 8192, maxNumSeqs: 256 };
const DEFAULT_BLOCK_SIZE = 16;
const CPU_KV_CACHE_BYTES = 1 << 30;
/** GPU memory kept free besides weights, KV and the step arena: cuBLASLt workspace, kernel scratch, the CUDA context's own. */
const GPU_HEADROOM_BYTES = 1 << 30;
/** Most penalty tokens (the prompt and output of the rows with penalties) one step carries. */
const MAX_PENALTY_TOKENS = 1 << 20;

/**
 * A loaded model serving many requests at once: in-flight batching over a paged KV cache with
 * prefix reuse, chunked prefill and preemption (see @ignis/scheduler), one backend call per step.
 */
export class LLM {
  private nextRequest = 0;

  private constructor(
    readonly spec: ModelSpec,
    readonly tokenizer: Tokenizer | undefined,
    readonly device: 'cpu' | 'cuda',
    /** The activation dtype the model computes in. */
    readonly dtype: DType,
    readonly cache: CacheConfig,
    private readonly core: EngineCore,
    private readonly runner: ExecutableRunner,
    /** Bytes of all weights as the backend stores them: what every decode step must read. */
    readonly weightBytes: number,
    private readonly scheduler: Scheduler,
    /** What the linear weights run in, by format, e.g. `224 x fp8e4m3, channel scales, fp8-token activations; 1 x bf16`. */
    readonly weightFormats: string,
  ) {}

  /** The dtype the KV cache stores (see {@link LLMOptions.kvCacheDtype}). */
  get kvCacheDtype(): DType {
    return this.cache.dtype;
  }

  /** `fp8` when any linear weight runs quantized, else `none` (see {@link LLMOptions.quantization}). */
  get quantization(): 'fp8' | 'none' {
    return this.weightFormats.includes('fp8e4m3') ? 'fp8' : 'none';
  }

  /**
   * Loads a Hugging Face model directory (config.json, safetensors, optional tokenizer files), or
   * `synthetic:NAME` (random weights of a known shape, e.g. `synthetic:llama-3.1-8b`, no tokenizer).
   * Everything that can be checked is checked before the weights are loaded: the config's sizes
   * (`ModelConfigError`), the tensors' shapes and, in a sample or in full, their values
   * (`CheckpointError`), whether weights, KV cache and activations fit the device's free memory
   * (`OutOfGpuMemoryError`, `OutOfHostMemoryError`), the tokenizer and chat template (`TokenizerError`).
   */
  static async load(location: string, options: LLMOptions = {}): Promise<LLM> {
    const placement = selectBackend(options.device ?? 'auto', options.dtype ?? 'auto');
    const defaults = placement.device === 'cuda' ? GPU_DEFAULTS : CPU_DEFAULTS;
    const maxNumBatchedTokens = positive('maxNumBatchedTokens', options.maxNumBatchedTokens ?? defaults.maxNumBatchedTokens);
    const maxNumSeqs = positive('maxNumSeqs', options.maxNumSeqs ?? defaults.maxNumSeqs);
    const model = await openModel(location);
    try {
      const spec = model.spec;
      const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
      const kvCache = await kvCacheOf(options.kvCacheDtype ?? 'auto', placement.dtype, model.weights, spec.numLayers);
      const graph = buildModelGraph(spec, { activationDtype: placement.dtype, weightDtype: placement.dtype, blockSize, sample: true, ...kvCache });
      const quantization = planQuantization({
        checkpointConfig: spec.quantizationConfig,
        where: model.synthetic ? location : 'config.json',
        method: options.quantization ?? 'auto',
        source: model.weights(graph),
        backend: placement.backend,
      });
      const quantized = quantization.pass.run(graph);
      const cache = planCache(spec, {
        blockSize,
        maxNumSeqs,
        kvCacheBytes: options.kvCacheBytes ?? kvBudget(placement, quantized, maxNumBatchedTokens, maxNumSeqs, options.gpuMemoryUtilization ?? 0.9),
        maxModelLen: options.maxModelLen,
        dtype: kvCache.kvCacheDtype,
      });
      const maxPenaltyTokens = Math.min(MAX_PENALTY_TOKENS, maxNumSeqs * cache.maxModelLen);
      const maxDims = { T: maxNumBatchedTokens, S: maxNumSeqs, R: maxNumSeqs, MB: cache.maxBlocksPerSeq, P: maxPenaltyTokens, [TOP_LOGPROBS_DIM]: MAX_TOP_LOGPROBS };
      const plan = compile(graph, { maxDims, passes: [quantization.pass, ...DEFAULT_PASSES] });
      const weights = quantization.weightsFor(plan);
      checkWeights(plan, weights, model.location);
      // The reference backend holds every weight in f32; the GPU holds each as its format says.
      const storedBytes = placement.device === 'cuda' ? weightBytes(quantized, placement.dtype) : weightBytes(graph, 'f32');
      const headroom = placement.device === 'cuda' ? GPU_HEADROOM_BYTES : 0;
      checkMemoryFits(placement.device, { weights: storedBytes, kvCache: cache.bytes, activations: plan.memory.arenaBytes, headroom }, availableMemory(placement));
      const tokenizer = model.synthetic ? undefined : await loadTokenizer(location);
      await checkFiniteWeights(plan, weights, { full: options.checkWeights ?? false });
      const executable = await placement.backend.load(plan, weights, { loadDims: { NB: cache.numBlocks } });
      const kv = new KvCacheManager({ numBlocks: cache.numBlocks, blockSize, enablePrefixCaching: options.enablePrefixCaching ?? true });
      const limits = { blockSize, maxNumBatchedTokens, maxNumSeqs, maxBlocksPerSeq: cache.maxBlocksPerSeq, maxPenaltyTokens };
      const runner = new ExecutableRunner(executable, limits, (request) => kv.blockIds(request.id), placement.device === 'cuda');
      const scheduler = new Scheduler(
        { maxNumBatchedTokens, maxNumSeqs, policy: options.schedulingPolicy ?? 'fcfs', maxModelLen: cache.maxModelLen },
        kv,
      );
      const eos = new Set([...spec.eosTokenIds, ...(tokenizer?.eosTokenIds ?? [])]);
      const core = new EngineCore(scheduler, kv, runner, tokenizer, eos, cache.maxModelLen, options.events);
      return new LLM(spec, tokenizer, placement.device, placement.dtype, cache, core, runner, storedBytes, scheduler, describeWeights(plan));
    } finally {
      await model.close();
    }
  }

  /** Longest prompt + output this engine accepts. */
  get maxModelLen(): number {
    return this.cache.maxModelLen;
  }

  /** Bytes of K and V one token keeps in the cache, over all layers. */
  get kvBytesPerToken(): number {
    return this.spec.numLayers * 2 * this.spec.numKvHeads * this.spec.headDim * dtypeBytes(this.cache.dtype);
  }

  /** Generates `params.n` completions of `prompt` (text, tokenized with special tokens added, or token ids as given). */
  async generate(prompt: string | readonly number[], params: Partial<SamplingParams> = {}, options: RequestOptions = {}): Promise<GenerateResult> {
    return (await this.submit(prompt, params, options)).result;
  }

  /** Generates a completion for each prompt, all batched together. */
  generateBatch(prompts: readonly (string | readonly number[])[], params: Partial<SamplingParams> = {}, options: RequestOptions = {}): Promise<GenerateResult[]> {
    return Promise.all(prompts.map((p) => this.generate(p, params, options)));
  }

  /** Submits a prompt and returns at once: a handle to iterate for deltas, await, or abort. */
  stream(prompt: string | readonly number[], params: Partial<SamplingParams> = {}, options: RequestOptions = {}): Promise<RequestHandle> {
    return this.submit(prompt, params, options);
  }

  /** What the engine holds now, and counters since load. */
  stats(): EngineStats {
    const kv = this.core.cache;
    const scheduled = this.scheduler.stats;
    return {
      waiting: this.scheduler.numWaiting,
      running: this.scheduler.numRunning,
      kvCacheUsage: kv.usage,
      kvBlocks: kv.numBlocks - 1,
      freeKvBlocks: kv.numFreeBlocks,
      cachedKvBlocks: kv.numCachedBlocks,
      promptTokens: scheduled.promptTokens,
      reusedPromptTokens: scheduled.reusedPromptTokens,
      preemptions: scheduled.preemptions,
      steps: scheduled.steps,
      computedTokens: scheduled.computedTokens,
    };
  }

  /** Drops every cached prefix no request holds (true when none is left). */
  resetPrefixCache(): boolean {
    return this.core.cache.resetPrefixCache();
  }

  /** Releases the model's memory. Unfinished requests fail. */
  dispose(): void {
    this.runner.dispose();
  }

  private async submit(prompt: string | readonly number[], given: Partial<SamplingParams>, options: RequestOptions): Promise<RequestHandle> {
    const params = resolveSamplingParams(given);
    if (params.stop.length > 0 && !this.tokenizer) {
      throw new InvalidParameterError('stop', 'stop strings need a tokenizer, and this model has no tokenizer.json');
    }
    const promptIds = await this.promptIds(prompt);
    const requestId = `req-${this.nextRequest++}`;
    const arrival = performance.now();
    const seed = params.seed ?? randomInt(2 ** 48 - 1);
    const queue = new AsyncQueue<CompletionDelta>();
    const outcomes: Outcome[] = [];
    let pending = params.n;
    let settle!: { resolve: (r: GenerateResult) => void; reject: (e: unknown) => void };
    const result = new Promise<GenerateResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    result.catch(() => undefined); // a caller that only iterates must not see an unhandled rejection
    const requests = Array.from({ length: params.n }, (_, index) => {
      // Each completion samples its own stream of draws (see completionSeed).
      const rowSeed = completionSeed(seed, index);
      return new Request(`${requestId}-${index}`, index, promptIds, params, rowSeed, options.priority ?? 0, arrival, options.cacheSalt);
    });
    const finished = (index: number, outcome: Outcome): void => {
      outcomes[index] = outcome;
      if (--pending > 0) return;
      const failure = outcomes.find((o) => 'error' in o);
      if (failure && 'error' in failure) {
        queue.fail(failure.error);
        settle.reject(failure.error);
        return;
      }
      queue.end();
      settle.resolve(assemble(requestId, promptIds, outcomes as Extract<Outcome, { output: unknown }>[]));
    };
    // With n > 1 the other completions start once the first has computed the prompt, so that they
    // find its full blocks in the prefix cache instead of computing them again.
    let siblingsSubmitted = params.n === 1;
    const submitSiblings = (): void => {
      if (siblingsSubmitted) return;
      siblingsSubmitted = true;
      for (const request of requests.slice(1)) {
        this.core.submit(request, (delta) => queue.push(delta), (outcome) => finished(request.index, outcome));
      }
    };
    this.core.submit(
      requests[0]!,
      (delta) => {
        queue.push(delta);
        submitSiblings();
      },
      (outcome) => {
        if ('error' in outcome && !siblingsSubmitted) {
          siblingsSubmitted = true;
          for (const request of requests.slice(1)) finished(request.index, outcome);
        }
        submitSiblings();
        finished(0, outcome);
      },
    );
    const abort = (): void => {
      submitSiblings();
      for (const request of requests) this.core.abort(request.id);
    };
    return { requestId, result, abort, [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator]() };
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
    if (bad !== undefined) throw new InvalidParameterError('prompt', `token id ${bad} is outside the vocabulary [0, ${this.spec.vocabSize})`);
    if (ids.length >= this.cache.maxModelLen) throw new PromptTooLongError(ids.length, this.cache.maxModelLen);
    return ids;
  }
}

function assemble(requestId: string, promptIds: readonly number[], outcomes: readonly { output: CompletionOutput; metrics: RequestMetrics }[]): GenerateResult {
  const outputs = outcomes.map((o) => o.output);
  const metrics = outcomes.map((o) => o.metrics);
  return {
    ...outputs[0]!,
    requestId,
    promptTokenIds: promptIds,
    outputs,
    metrics,
    timeToFirstTokenMs: metrics[0]!.timeToFirstTokenMs,
    totalMs: Math.max(...metrics.map((m) => m.totalMs)),
  };
}

/** The KV cache's dtype and, for FP8, each layer's scales from the checkpoint (1.0 where it has none). */
async function kvCacheOf(
  requested: KvCacheDtype,
  activations: DType,
  weights: ModelSource['weights'],
  numLayers: number,
): Promise<{ kvCacheDtype: DType; kvCacheScales?: KvCacheScales[] }> {
  if (!KV_CACHE_DTYPES.includes(requested)) {
    throw new InvalidParameterError('kvCacheDtype', `kvCacheDtype must be one of ${KV_CACHE_DTYPES.join(', ')}, got ${JSON.stringify(requested)}`);
  }
  if (requested === 'auto') return { kvCacheDtype: activations };
  // The scales are checkpoint tensors: any graph serves to ask the source for them.
  return { kvCacheDtype: 'fp8e4m3', kvCacheScales: await readKvCacheScales(weights({ name: 'kv-scales', values: [], ops: [], outputs: {} }), numLayers) };
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidParameterError(name, `${name} must be a positive integer, got ${value}`);
  return value;
}

/** Bytes of every weight of `graph` as the backend stores it: quantized ones in their dtype with their scales, others as `dtype`. */
function weightBytes(graph: Graph, dtype: DType): number {
  let bytes = 0;
  for (const v of graph.values) {
    if (v.kind !== 'weight') continue;
    bytes += evalNumel(v.shape, {}) * dtypeBytes(v.format ? v.dtype : dtype);
    for (const c of weightCompanions(v)) bytes += evalNumel(c.shape, {}) * 4;
  }
  return bytes;
}

/** Bytes the device can still take: the GPU's free memory, or what this machine has available. */
function availableMemory(placement: Placement): number {
  return placement.backend instanceof CudaBackend ? placement.backend.memoryInfo().free : availableHostMemory();
}

/**
 * Bytes for the KV cache: 1 GiB on the CPU; on the GPU, the given fraction of its free memory
 * minus the weights and the largest step's activations (as vLLM's gpu_memory_utilization).
 */
function kvBudget(placement: Placement, graph: Graph, maxNumBatchedTokens: number, maxNumSeqs: number, utilization: number): number {
  if (!(placement.backend instanceof CudaBackend)) return CPU_KV_CACHE_BYTES;
  if (!(utilization > 0 && utilization <= 1)) {
    throw new InvalidParameterError('gpuMemoryUtilization', `gpuMemoryUtilization must be in (0, 1], got ${utilization}`);
  }
  const { free } = placement.backend.memoryInfo();
  const weights = weightBytes(graph, placement.dtype);
  const maxDims = { T: maxNumBatchedTokens, S: maxNumSeqs, R: maxNumSeqs, MB: 1, P: MAX_PENALTY_TOKENS, [TOP_LOGPROBS_DIM]: MAX_TOP_LOGPROBS };
  const activations = compile(graph, { maxDims }).memory.arenaBytes;
  const budget = Math.floor(free * utilization) - weights - activations - GPU_HEADROOM_BYTES;
  if (budget <= 0) {
    throw new OutOfGpuMemoryError(
      `not enough GPU memory: the weights take ${gib(weights)} and the activations ${gib(activations)}, plus ${gib(GPU_HEADROOM_BYTES)} of headroom, and ${gib(free)} are free (gpuMemoryUtilization ${utilization} allows ${gib(free * utilization)})`,
    );
  }
  return budget;
}
