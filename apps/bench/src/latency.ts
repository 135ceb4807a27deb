import { ceilingsFor, probeCuda } from '@ignis/cuda-kernels';
import { type Device, LLM, type Precision } from '@ignis/engine';

/** Options of `ignis-bench latency`. */
export interface LatencyOptions {
  model: string;
  device: Device;
  dtype: Precision;
  inputLen: number;
  outputLen: number;
  iterations: number;
  warmup: number;
}

/** One measured request. */
export interface LatencyRun {
  readonly timeToFirstTokenMs: number;
  readonly decodeTokensPerSecond: number;
  readonly msPerOutputToken: number;
}

/** What `latency` reports (JSON with --json). */
export interface LatencyReport {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  readonly inputLen: number;
  readonly outputLen: number;
  readonly runs: readonly LatencyRun[];
  readonly median: LatencyRun;
  /** Bytes one decode step must read: every weight once, plus the KV of the context (mean over the run). */
  readonly bytesPerDecodeStep: number;
  readonly achievedGBs: number;
  readonly ceilingGBs: number | undefined;
  readonly fractionOfBandwidth: number | undefined;
  /** The decode rate the bandwidth ceiling allows. */
  readonly boundTokensPerSecond: number | undefined;
}

const medianOf = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * One request of `inputLen` random tokens generating `outputLen` (greedy, EOS ignored), repeated:
 * time to first token, decode rate, and achieved memory bandwidth against the GPU's ceiling.
 */
export async function runLatency(options: LatencyOptions, log: (line: string) => void): Promise<LatencyReport> {
  const llm = await LLM.load(options.model, { device: options.device, dtype: options.dtype, maxModelLen: options.inputLen + options.outputLen + 1 });
  try {
    const vocab = llm.spec.vocabSize;
    const runs: LatencyRun[] = [];
    for (let i = 0; i < options.warmup + options.iterations; i++) {
      const prompt = Array.from({ length: options.inputLen }, (_, j) => (j * 7919 + i * 104729) % vocab);
      const result = await llm.generate(prompt, { temperature: 0, maxTokens: options.outputLen, ignoreEos: true });
      const decodeMs = result.totalMs - result.timeToFirstTokenMs;
      const run = {
        timeToFirstTokenMs: result.timeToFirstTokenMs,
        decodeTokensPerSecond: ((result.tokenIds.length - 1) * 1000) / decodeMs,
        msPerOutputToken: decodeMs / (result.tokenIds.length - 1),
      };
      if (i >= options.warmup) runs.push(run);
      log(`${i < options.warmup ? 'warm-up' : `run ${i - options.warmup + 1}`}: first token ${run.timeToFirstTokenMs.toFixed(1)} ms, decode ${run.decodeTokensPerSecond.toFixed(1)} tokens/s (${run.msPerOutputToken.toFixed(2)} ms/token)`);
    }
    const median: LatencyRun = {
      timeToFirstTokenMs: medianOf(runs.map((r) => r.timeToFirstTokenMs)),
      decodeTokensPerSecond: medianOf(runs.map((r) => r.decodeTokensPerSecond)),
      msPerOutputToken: medianOf(runs.map((r) => r.msPerOutputToken)),
    };
    const meanContext = options.inputLen + options.outputLen / 2;
    const bytesPerDecodeStep = llm.weightBytes + meanContext * llm.kvBytesPerToken;
    const device = llm.device === 'cuda' ? probeCuda().device?.name : undefined;
    const ceiling = device ? ceilingsFor(device).bandwidthGBs : undefined;
    const achievedGBs = (bytesPerDecodeStep * median.decodeTokensPerSecond) / 1e9;
    return {
      model: options.model,
      device: device ?? 'cpu',
      dtype: llm.dtype,
      inputLen: options.inputLen,
      outputLen: options.outputLen,
      runs,
      median,
      bytesPerDecodeStep,
      achievedGBs,
      ceilingGBs: ceiling,
      fractionOfBandwidth: ceiling ? achievedGBs / ceiling : undefined,
      boundTokensPerSecond: ceiling ? (ceiling * 1e9) / bytesPerDecodeStep : undefined,
    };
  } finally {
    llm.dispose();
  }
}
