import { probeCuda } from '@ignis/cuda-kernels';
import type { LLM } from '@ignis/engine';
import { seededRandom } from '@ignis/tensor';
import { type BandwidthCeiling, bandwidthCeiling } from './gpus.js';
import { type MemoryReport, memoryProbe } from './memory.js';
import { median } from './stats.js';
import { type EngineOptions, loadEngine } from './throughput.js';

/** Options of `ignis-bench latency`. */
export interface LatencyOptions extends EngineOptions {
  inputLen: number;
  outputLen: number;
  /** Requests run together in each iteration; one report per entry (the model loads once). */
  concurrency: readonly number[];
  iterations: number;
  warmup: number;
  /** Overrides the datasheet bandwidth of the GPU (GB/s). */
  bandwidthGBs?: number;
}

/** One measured iteration: `concurrency` requests started together. */
export interface LatencyRun {
  /** Mean over the iteration's requests. */
  readonly timeToFirstTokenMs: number;
  /** Output tokens per second after the first token, over all the iteration's requests. */
  readonly decodeTokensPerSecond: number;
  /** One decode step: the time between a sequence's tokens. */
  readonly msPerOutputToken: number;
}

/** What `latency` reports for one concurrency (JSON with --json or --output). */
export interface LatencyReport extends BandwidthCeiling {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  /** As in the throughput report. */
  readonly quantization: string;
  readonly kvCacheDtype: string;
  readonly inputLen: number;
  readonly outputLen: number;
  readonly concurrency: number;
  readonly runs: readonly LatencyRun[];
  readonly median: LatencyRun;
  /** Bytes one decode step must read: every weight once, plus the KV of every sequence's context (mean over the run). */
  readonly bytesPerDecodeStep: number;
  readonly weightBytes: number;
  /** bytesPerDecodeStep x decode steps per second. */
  readonly achievedGBs: number;
  readonly fractionOfCeiling: number | null;
  readonly fractionOfMeasuredCopy: number | null;
  /** The decode rate (tokens/s, all sequences) the ceiling allows. */
  readonly boundTokensPerSecond: number | null;
  readonly memory: MemoryReport;
}

/**
 * `concurrency` requests of `inputLen` random tokens generating `outputLen` each (greedy, EOS
 * ignored), started together and repeated: time to first token, decode rate, and the memory
 * bandwidth that rate implies against the GPU's ceiling (decode reads every weight per step).
 */
export async function runLatency(options: LatencyOptions, log: (line: string) => void): Promise<LatencyReport[]> {
  const most = Math.max(...options.concurrency);
  const memory = memoryProbe(options.device);
  const llm = await loadEngine({ ...options, maxNumSeqs: Math.max(most, options.maxNumSeqs ?? 1) }, options.inputLen + options.outputLen);
  try {
    const device = llm.device === 'cuda' ? probeCuda().device?.name : undefined;
    const ceiling = bandwidthCeiling(device, options.bandwidthGBs);
    const reports: LatencyReport[] = [];
    for (const concurrency of options.concurrency) {
      const runs = await measure(llm, options, concurrency, log);
      const mid: LatencyRun = {
        timeToFirstTokenMs: median(runs.map((r) => r.timeToFirstTokenMs)),
        decodeTokensPerSecond: median(runs.map((r) => r.decodeTokensPerSecond)),
        msPerOutputToken: median(runs.map((r) => r.msPerOutputToken)),
      };
      const bytesPerDecodeStep = llm.weightBytes + concurrency * (options.inputLen + options.outputLen / 2) * llm.kvBytesPerToken;
      const achievedGBs = (bytesPerDecodeStep * (1000 / mid.msPerOutputToken)) / 1e9;
      reports.push({
        model: options.model,
        device: device ?? 'cpu',
        dtype: llm.dtype,
        quantization: llm.quantization,
        kvCacheDtype: llm.kvCacheDtype,
        inputLen: options.inputLen,
        outputLen: options.outputLen,
        concurrency,
        runs,
        median: mid,
        bytesPerDecodeStep,
        weightBytes: llm.weightBytes,
        achievedGBs,
        ...ceiling,
        fractionOfCeiling: ceiling.ceilingGBs ? achievedGBs / ceiling.ceilingGBs : null,
        fractionOfMeasuredCopy: ceiling.measuredCopyGBs ? achievedGBs / ceiling.measuredCopyGBs : null,
        boundTokensPerSecond: ceiling.ceilingGBs ? (concurrency * ceiling.ceilingGBs * 1e9) / bytesPerDecodeStep : null,
        memory: memory.read(),
      });
    }
    return reports;
  } finally {
    llm.dispose();
  }
}

async function measure(llm: LLM, options: LatencyOptions, concurrency: number, log: (line: string) => void): Promise<LatencyRun[]> {
  const random = seededRandom(concurrency);
  const vocab = llm.spec.vocabSize;
  const runs: LatencyRun[] = [];
  for (let i = 0; i < options.warmup + options.iterations; i++) {
    // Fresh prompts each time, so that no iteration finds the last one's prefix cached.
    const prompts = Array.from({ length: concurrency }, () => Array.from({ length: options.inputLen }, () => 1 + Math.floor(random() * (vocab - 1))));
    const results = await llm.generateBatch(prompts, { temperature: 0, maxTokens: options.outputLen, ignoreEos: true });
    const stepMs = results.map((r) => (r.totalMs - r.timeToFirstTokenMs) / (r.tokenIds.length - 1));
    const run: LatencyRun = {
      timeToFirstTokenMs: results.reduce((a, r) => a + r.timeToFirstTokenMs, 0) / concurrency,
      decodeTokensPerSecond: stepMs.reduce((a, ms) => a + 1000 / ms, 0),
      msPerOutputToken: stepMs.reduce((a, ms) => a + ms, 0) / concurrency,
    };
    if (i >= options.warmup) runs.push(run);
    const what = i < options.warmup ? 'warm-up' : `run ${i - options.warmup + 1}`;
    log(
      `concurrency ${concurrency}, ${what}: first token ${run.timeToFirstTokenMs.toFixed(1)} ms, decode ${run.decodeTokensPerSecond.toFixed(1)} tokens/s (${run.msPerOutputToken.toFixed(2)} ms/token)`,
    );
  }
  return runs;
}
