import { type Summary, summarize } from './stats.js';

/** One finished request as a benchmark sees it (ms). */
export interface RequestSample {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Arrival to the first output token. */
  readonly ttftMs: number;
  /** Time per output token after the first: (e2e - ttft) / (outputTokens - 1); null with one token. */
  readonly tpotMs: number | null;
  /** Arrival to the last token. */
  readonly e2eMs: number;
}

/** The latency percentiles every load report carries (ms). */
export interface LatencySummaries {
  readonly timeToFirstTokenMs: Summary;
  readonly timePerOutputTokenMs: Summary;
  /** Gaps between consecutive tokens (or streamed chunks) over all requests. */
  readonly interTokenLatencyMs: Summary;
  readonly endToEndMs: Summary;
}

export function sample(inputTokens: number, outputTokens: number, ttftMs: number, e2eMs: number): RequestSample {
  return { inputTokens, outputTokens, ttftMs, tpotMs: outputTokens > 1 ? (e2eMs - ttftMs) / (outputTokens - 1) : null, e2eMs };
}

export function latencySummaries(samples: readonly RequestSample[], interTokenMs: readonly (readonly number[])[]): LatencySummaries {
  return {
    timeToFirstTokenMs: summarize(samples.map((s) => s.ttftMs)),
    timePerOutputTokenMs: summarize(samples.flatMap((s) => (s.tpotMs === null ? [] : [s.tpotMs]))),
    interTokenLatencyMs: summarize(interTokenMs.flat()),
    endToEndMs: summarize(samples.map((s) => s.e2eMs)),
  };
}
