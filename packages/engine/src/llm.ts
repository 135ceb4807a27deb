import { randomInt } from 'node:crypto';
import { type ModelSpec, buildModelGraph, checkWeights, openCheckpoint } from '@ignis/models';
import { compile, seed32 } from '@ignis/tensor';
import { BlockAllocator } from './block-allocator.js';
import { type CacheConfig, planCache } from './cache-config.js';
import { type Device, selectBackend } from './device.js';
import { InvalidParameterError, PromptTooLongError } from './errors.js';
import { ExecutableRunner, type Runner } from './runner.js';
import { type SamplingParams, resolveSamplingParams } from './sampling/params.js';
import { type FinishReason, type ScheduledSequence, Sequence } from './sequence.js';
import { StopStrings } from './stop-strings.js';
import { IncrementalDetokenizer, type Tokenizer, loadTokenizer } from './tokenizer/index.js';

/** Options for {@link LLM.load}. */
export interface LLMOptions {
  /** Where to run; `auto` picks the GPU when there is one. */
  readonly device?: Device;
  /** Longest prompt + output; defaults to the model's max_position_embeddings, shrunk to fit the KV budget. */
  readonly maxModelLen?: number;
  /** Most tokens computed in one step; longer prompts are prefilled in chunks of this size. */
  readonly maxNumBatchedTokens?: number;
  /** Tokens per KV-cache block. */
  readonly blockSize?: number;
  /** Bytes the KV cache may take. */
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
const DEFAULT_KV_CACHE_BYTES = 1 << 30;

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
    readonly cache: CacheConfig,
    private readonly runner: Runner,
    private readonly blocks: BlockAllocator,
    private readonly eosTokenIds: ReadonlySet<number>,
  ) {}

  /** Loads a Hugging Face model directory (config.json, safetensors, optional tokenizer files). */
  static async load(dir: string, options: LLMOptions = {}): Promise<LLM> {
    const { backend, device } = selectBackend(options.device ?? 'auto');
    const maxNumBatchedTokens = options.maxNumBatchedTokens ?? DEFAULT_MAX_NUM_BATCHED_TOKENS;
    if (!Number.isSafeInteger(maxNumBatchedTokens) || maxNumBatchedTokens < 1) {
      throw new InvalidParameterError('maxNumBatchedTokens', `maxNumBatchedTokens must be a positive integer, got ${maxNumBatchedTokens}`);
    }
    const checkpoint = await openCheckpoint(dir);
    try {
      const spec = checkpoint.spec;
      const cache = planCache(spec, {
        blockSize: options.blockSize ?? DEFAULT_BLOCK_SIZE,
        maxNumSeqs: 1,
        kvCacheBytes: options.kvCacheBytes ?? DEFAULT_KV_CACHE_BYTES,
        maxModelLen: options.maxModelLen,
        elementBytes: 4,
      });
      const graph = buildModelGraph(spec, { activationDtype: 'f32', blockSize: cache.blockSize, sample: true });
      checkWeights(graph, checkpoint);
      const plan = compile(graph, { maxDims: { T: maxNumBatchedTokens, S: 1, R: 1, MB: cache.maxBlocksPerSeq } });
      const executable = await backend.load(plan, checkpoint.weights, { loadDims: { NB: cache.numBlocks } });
      const runner = new ExecutableRunner(executable, {
        blockSize: cache.blockSize,
        maxNumBatchedTokens,
        maxNumSeqs: 1,
        maxBlocksPerSeq: cache.maxBlocksPerSeq,
      });
      const tokenizer = await loadTokenizer(dir);
      const eos = new Set([...spec.eosTokenIds, ...(tokenizer?.eosTokenIds ?? [])]);
      return new LLM(spec, tokenizer, device, cache, runner, new BlockAllocator(cache.numBlocks), eos);
    } finally {
      await checkpoint.close();
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
