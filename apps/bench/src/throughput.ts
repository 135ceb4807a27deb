import { type Device, LLM, type Precision, type RequestMetrics } from '@ignis/engine';
import { type Summary, summarize } from './stats.js';

/** Options of `ignis-bench throughput`. */
export interface ThroughputOptions {
  model: string;
  device: Device;
  dtype: Precision;
  numRequests: number;
  inputLen: number;
  outputLen: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  /** Requests share their first `sharedPrefix` prompt tokens (prefix caching at work). */
  sharedPrefix: number;
  enablePrefixCaching: boolean;
}

/** What `throughput` reports (JSON with --json). */
export interface ThroughputReport {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  readonly numRequests: number;
  readonly inputLen: number;
  readonly outputLen: number;
  readonly elapsedSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly totalTokensPerSecond: number;
  readonly outputTokens: number;
  /** ms: time to first token, time per output token after the first, end to end, queueing. */
  readonly timeToFirstTokenMs: Summary;
  readonly timePerOutputTokenMs: Summary;
  readonly endToEndMs: Summary;
  readonly queueMs: Summary;
  /** Share of admitted prompt tokens taken from the prefix cache. */
  readonly prefixCacheHitRate: number;
  readonly peakKvCacheUsage: number;
  readonly preemptions: number;
  /** Engine steps, and the mean number of sequences in one. */
  readonly steps: number;
  readonly meanBatchSize: number;
  /** Share of the wall time in the runner (packing, the device step, reading samples back) and in the engine's host work around it. */
  readonly runShare: number;
  readonly hostShare: number;
}

/**
 * Offline throughput, as trtllm-bench measures it: every request queued at once (random token
 * ids, greedy, end-of-sequence ignored so that each produces exactly `outputLen` tokens), wall
 * time from submission to the last token.
 */
export async function runThroughput(options: ThroughputOptions, log: (line: string) => void): Promise<ThroughputReport> {
  let peakUsage = 0;
  let sequences = 0;
  let runMs = 0;
  let hostMs = 0;
  const llm: LLM = await LLM.load(options.model, {
    device: options.device,
    dtype: options.dtype,
    maxNumSeqs: options.maxNumSeqs,
    maxNumBatchedTokens: options.maxNumBatchedTokens,
    maxModelLen: options.inputLen + options.outputLen + 1,
    enablePrefixCaching: options.enablePrefixCaching,
    events: {
      onStep: (step) => {
        peakUsage = Math.max(peakUsage, llm.stats().kvCacheUsage);
        sequences += step.scheduled;
        runMs += step.runMs;
        hostMs += step.hostMs;
      },
    },
  });
  try {
    const vocab = llm.spec.vocabSize;
    const prompt = (i: number): number[] =>
      Array.from({ length: options.inputLen }, (_, j) => (j < options.sharedPrefix ? (j * 7919 + 13) % vocab : (i * 104729 + j * 7919) % vocab));
    const params = { temperature: 0, maxTokens: options.outputLen, ignoreEos: true };
    // Warm-up: one short batch so that CUDA graphs and GEMM choices are settled before timing.
    await llm.generateBatch([prompt(options.numRequests), prompt(options.numRequests + 1)], { ...params, maxTokens: 4 });
    const before = llm.stats();
    [peakUsage, sequences, runMs, hostMs] = [0, 0, 0, 0];
    const started = performance.now();
    let done = 0;
    const results = await Promise.all(
      Array.from({ length: options.numRequests }, (_, i) =>
        llm.generate(prompt(i), params).then((r) => {
          if (++done % Math.max(1, Math.floor(options.numRequests / 10)) === 0) log(`${done}/${options.numRequests} requests done`);
          return r;
        }),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    const after = llm.stats();
    const metrics: RequestMetrics[] = results.flatMap((r) => r.metrics);
    const outputTokens = metrics.reduce((a, m) => a + m.outputTokens, 0);
    const admitted = after.promptTokens - before.promptTokens;
    const steps = after.steps - before.steps;
    return {
      model: options.model,
      device: llm.device,
      dtype: llm.dtype,
      numRequests: options.numRequests,
      inputLen: options.inputLen,
      outputLen: options.outputLen,
      elapsedSeconds: elapsed,
      requestsPerSecond: options.numRequests / elapsed,
      outputTokensPerSecond: outputTokens / elapsed,
      totalTokensPerSecond: (outputTokens + options.numRequests * options.inputLen) / elapsed,
      outputTokens,
      timeToFirstTokenMs: summarize(metrics.map((m) => m.timeToFirstTokenMs)),
      timePerOutputTokenMs: summarize(metrics.filter((m) => m.outputTokens > 1).map((m) => (m.totalMs - m.timeToFirstTokenMs) / (m.outputTokens - 1))),
      endToEndMs: summarize(metrics.map((m) => m.totalMs)),
      queueMs: summarize(metrics.map((m) => m.queueMs)),
      prefixCacheHitRate: admitted > 0 ? (after.reusedPromptTokens - before.reusedPromptTokens) / admitted : 0,
      peakKvCacheUsage: peakUsage,
      preemptions: after.preemptions - before.preemptions,
      steps,
      meanBatchSize: steps > 0 ? sequences / steps : 0,
      runShare: runMs / (elapsed * 1000),
      hostShare: hostMs / (elapsed * 1000),
    };
  } finally {
    llm.dispose();
  }
}
