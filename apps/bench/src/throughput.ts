import { type Device, type EngineEvents, type KvCacheDtype, LLM, type Precision, type QuantizationMethod, type RequestMetrics } from '@ignis/engine';
import { seededRandom } from '@ignis/tensor';
import type { DatasetRequest } from './dataset/format.js';
import { type MemoryReport, memoryProbe } from './memory.js';
import { type Progress, silentProgress } from './progress.js';
import { type LatencySummaries, type RequestSample, latencySummaries, sample } from './samples.js';
import { type Summary, summarize } from './stats.js';

/** Engine options a benchmark may set (the engine's defaults otherwise). */
export interface EngineOptions {
  model: string;
  device: Device;
  dtype: Precision;
  /** Engine defaults (`auto`) when absent. */
  quantization?: QuantizationMethod;
  kvCacheDtype?: KvCacheDtype;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  /** Fraction of free GPU memory for weights, activations and the KV cache. */
  gpuMemoryUtilization?: number;
  kvCacheBytes?: number;
  enablePrefixCaching: boolean;
}

/** Options of `ignis-bench throughput`. */
export interface ThroughputOptions extends EngineOptions {
  requests: readonly DatasetRequest[];
  /** How the requests were made, for the report (a file name, or `synthetic 128/128`). */
  workload: string;
}

/** What `throughput` reports (JSON with --json or --output). */
export interface ThroughputReport extends LatencySummaries {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  /** What the linear weights and the KV cache run in: `fp8` or `none`, `fp8` or the activation dtype. */
  readonly quantization: string;
  readonly kvCacheDtype: string;
  readonly workload: string;
  readonly numRequests: number;
  /** Mean prompt and output lengths asked for. */
  readonly inputLen: number;
  readonly outputLen: number;
  readonly maxNumSeqs: number | null;
  readonly maxNumBatchedTokens: number | null;
  readonly elapsedSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly totalTokensPerSecond: number;
  /** Prompt tokens (as the engine tokenized them) and generated tokens, over all requests. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Arrival to the first step that computed any of the request (ms). */
  readonly queueMs: Summary;
  /** Share of admitted prompt tokens taken from the prefix cache, and their count. */
  readonly prefixCacheHitRate: number;
  readonly reusedPromptTokens: number;
  /** KV pool size, and the largest fraction of its blocks held at once. */
  readonly kvCacheBytes: number;
  readonly peakKvCacheUsage: number;
  readonly memory: MemoryReport;
  readonly preemptions: number;
  /** Engine steps, and the mean number of sequences in one. */
  readonly steps: number;
  readonly meanBatchSize: number;
  /** Share of the wall time in the runner (packing, the device step, reading samples back) and in the engine's host work around it. */
  readonly runShare: number;
  readonly hostShare: number;
  /** Per request, in dataset order. */
  readonly samples: readonly RequestSample[];
}

/** Loads the engine as `options` ask, sized for requests of up to `maxLen` tokens; `events` as LLM.load takes them. */
export function loadEngine(options: EngineOptions, maxLen: number, events?: EngineEvents): Promise<LLM> {
  return LLM.load(options.model, {
    device: options.device,
    dtype: options.dtype,
    quantization: options.quantization,
    kvCacheDtype: options.kvCacheDtype,
    maxNumSeqs: options.maxNumSeqs,
    maxNumBatchedTokens: options.maxNumBatchedTokens,
    gpuMemoryUtilization: options.gpuMemoryUtilization,
    kvCacheBytes: options.kvCacheBytes,
    maxModelLen: maxLen + 1,
    enablePrefixCaching: options.enablePrefixCaching,
    events,
  });
}

/**
 * The longest prompt + output among `requests`. A text prompt counts as its recorded length plus
 * a few special tokens, or, with none recorded, its UTF-8 bytes (byte-level BPE never makes more
 * tokens than bytes).
 */
const longestRequest = (requests: readonly DatasetRequest[]): number =>
  requests.reduce((most, r) => {
    const prompt = typeof r.prompt !== 'string' ? r.inputLen : r.inputLen > 0 ? r.inputLen + 8 : Buffer.byteLength(r.prompt) + 8;
    return Math.max(most, prompt + r.outputLen);
  }, 0);

/**
 * Offline throughput, as trtllm-bench measures it: every request queued at once (greedy,
 * end-of-sequence ignored so that each produces exactly its output length), wall time from
 * submission to the last token. A short warm-up on other prompts settles CUDA graphs and GEMM
 * choices first; the prefix cache is then emptied, so prefix hits are the workload's own.
 */
export async function runThroughput(options: ThroughputOptions, progress: Progress = silentProgress): Promise<ThroughputReport> {
  let peakUsage = 0;
  let sequences = 0;
  let runMs = 0;
  let hostMs = 0;
  const memory = memoryProbe(options.device);
  const llm: LLM = await loadEngine(options, longestRequest(options.requests), {
    onStep: (step) => {
      peakUsage = Math.max(peakUsage, llm.stats().kvCacheUsage);
      sequences += step.scheduled;
      runMs += step.runMs;
      hostMs += step.hostMs;
    },
  });
  try {
    const random = seededRandom(0x5eed);
    const warmup = Array.from({ length: 2 }, () => Array.from({ length: 16 }, () => 1 + Math.floor(random() * (llm.spec.vocabSize - 1))));
    await llm.generateBatch(warmup, { temperature: 0, maxTokens: 4, ignoreEos: true });
    llm.resetPrefixCache();
    const before = llm.stats();
    [peakUsage, sequences, runMs, hostMs] = [0, 0, 0, 0];
    const total = options.requests.length;
    let done = 0;
    const started = performance.now();
    const results = await Promise.all(
      options.requests.map((r) =>
        llm.generate(r.prompt, { temperature: 0, maxTokens: r.outputLen, ignoreEos: true }).then((result) => {
          progress.update(++done, total);
          return result;
        }),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    progress.end();
    const after = llm.stats();
    const metrics: RequestMetrics[] = results.map((r) => r.metrics[0]!);
    const samples = metrics.map((m) => sample(m.promptTokens, m.outputTokens, m.timeToFirstTokenMs, m.totalMs));
    const inputTokens = metrics.reduce((a, m) => a + m.promptTokens, 0);
    const outputTokens = metrics.reduce((a, m) => a + m.outputTokens, 0);
    const admitted = after.promptTokens - before.promptTokens;
    const reused = after.reusedPromptTokens - before.reusedPromptTokens;
    const steps = after.steps - before.steps;
    return {
      model: options.model,
      device: llm.device,
      dtype: llm.dtype,
      quantization: llm.quantization,
      kvCacheDtype: llm.kvCacheDtype,
      workload: options.workload,
      numRequests: total,
      inputLen: options.requests.reduce((a, r) => a + r.inputLen, 0) / total,
      outputLen: options.requests.reduce((a, r) => a + r.outputLen, 0) / total,
      maxNumSeqs: options.maxNumSeqs ?? null,
      maxNumBatchedTokens: options.maxNumBatchedTokens ?? null,
      elapsedSeconds: elapsed,
      requestsPerSecond: total / elapsed,
      outputTokensPerSecond: outputTokens / elapsed,
      totalTokensPerSecond: (inputTokens + outputTokens) / elapsed,
      inputTokens,
      outputTokens,
      ...latencySummaries(samples, metrics.map((m) => m.interTokenMs)),
      queueMs: summarize(metrics.map((m) => m.queueMs)),
      prefixCacheHitRate: admitted > 0 ? reused / admitted : 0,
      reusedPromptTokens: reused,
      kvCacheBytes: (llm.cache.numBlocks - 1) * llm.cache.blockSize * llm.kvBytesPerToken,
      peakKvCacheUsage: peakUsage,
      memory: memory.read(),
      preemptions: after.preemptions - before.preemptions,
      steps,
      meanBatchSize: steps > 0 ? sequences / steps : 0,
      runShare: runMs / (elapsed * 1000),
      hostShare: hostMs / (elapsed * 1000),
      samples,
    };
  } finally {
    llm.dispose();
  }
}
