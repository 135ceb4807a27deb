import { seededRandom } from '@ignis/tensor';
import type { DatasetRequest } from '../dataset/format.js';
import { type Progress, silentProgress } from '../progress.js';
import { type LatencySummaries, type RequestSample, latencySummaries } from '../samples.js';
import { type Endpoint, type Outcome, sendCompletion } from './client.js';
import { type Slo, meetsSlo } from './slo.js';

/** How requests are sent: at Poisson arrivals of `requestRate` per second (Infinity: all at once), at most `concurrency` in flight. */
export interface LoadShape {
  readonly requestRate: number;
  readonly concurrency: number | null;
  readonly seed: number;
}

/** What `serve` reports for one load shape (JSON with --json or --output). */
export interface ServeReport extends LatencySummaries {
  readonly baseUrl: string;
  readonly model: string;
  readonly workload: string;
  /** Requests per second asked for (null: all at once) and the in-flight limit (null: none). */
  readonly requestRate: number | null;
  readonly concurrency: number | null;
  readonly numRequests: number;
  readonly completed: number;
  readonly failed: number;
  /** Failure messages with their counts, most frequent first. */
  readonly failures: readonly { readonly error: string; readonly count: number }[];
  /** First request sent to the last one finished. */
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly totalTokensPerSecond: number;
  /** Over completed requests: prompt tokens (the server's usage, else the dataset's) and output tokens (usage, else one per chunk). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly outputTokensCountedFrom: 'usage' | 'chunks' | 'mixed' | 'none';
  /** Most requests in flight at once. */
  readonly peakConcurrency: number;
  readonly slo: Slo;
  /** Completed requests that met every SLO, per second of the run, and their share of all requests. */
  readonly goodput: number;
  readonly goodRequests: number;
  /** Per completed request, in dataset order. */
  readonly samples: readonly RequestSample[];
}

/** Request start times (ms after the first) for Poisson arrivals at `rate` per second; zeros when the rate is infinite. */
export function poissonArrivals(count: number, rate: number, seed: number): number[] {
  const random = seededRandom(seed);
  let at = 0;
  return Array.from({ length: count }, (_, i) => {
    if (i > 0 && Number.isFinite(rate)) at += (-Math.log(1 - random()) / rate) * 1000;
    return at;
  });
}

/** A counting semaphore: `acquire` waits for a free slot. */
class Slots {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** Sends every request of the workload to the endpoint in `shape`, then summarizes. `clock` gives milliseconds (tests pass a fake one). */
export async function runLoad(
  endpoint: Endpoint,
  requests: readonly DatasetRequest[],
  shape: LoadShape,
  slo: Slo,
  workload: string,
  progress: Progress = silentProgress,
  clock: () => number = () => performance.now(),
): Promise<ServeReport> {
  const arrivals = poissonArrivals(requests.length, shape.requestRate, shape.seed);
  const slots = shape.concurrency ? new Slots(shape.concurrency) : undefined;
  let inFlight = 0;
  let peak = 0;
  let finished = 0;
  const t0 = clock();
  const outcomes = await Promise.all(
    requests.map(async (r, i): Promise<Outcome> => {
      const wait = t0 + arrivals[i]! - clock();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await slots?.acquire();
      peak = Math.max(peak, ++inFlight);
      try {
        return await sendCompletion(endpoint, r.prompt, r.inputLen, r.outputLen, t0, clock);
      } finally {
        inFlight--;
        slots?.release();
        progress.update(++finished, requests.length);
      }
    }),
  );
  const duration = (clock() - t0) / 1000;
  progress.end();
  return summarizeLoad(endpoint, shape, slo, workload, outcomes, duration, peak);
}

function summarizeLoad(endpoint: Endpoint, shape: LoadShape, slo: Slo, workload: string, outcomes: readonly Outcome[], duration: number, peak: number): ServeReport {
  const ok = outcomes.filter((o) => o.ok);
  const samples = ok.map((o) => o.sample);
  const errors = new Map<string, number>();
  for (const o of outcomes) if (!o.ok) errors.set(o.error, (errors.get(o.error) ?? 0) + 1);
  const inputTokens = samples.reduce((a, s) => a + s.inputTokens, 0);
  const outputTokens = samples.reduce((a, s) => a + s.outputTokens, 0);
  const counted = new Set(ok.map((o) => o.countedFrom));
  const good = samples.filter((s) => meetsSlo(s, slo)).length;
  return {
    baseUrl: endpoint.baseUrl,
    model: endpoint.model,
    workload,
    requestRate: Number.isFinite(shape.requestRate) ? shape.requestRate : null,
    concurrency: shape.concurrency,
    numRequests: outcomes.length,
    completed: ok.length,
    failed: outcomes.length - ok.length,
    failures: [...errors].map(([error, count]) => ({ error, count })).sort((a, b) => b.count - a.count),
    durationSeconds: duration,
    requestsPerSecond: ok.length / duration,
    outputTokensPerSecond: outputTokens / duration,
    totalTokensPerSecond: (inputTokens + outputTokens) / duration,
    inputTokens,
    outputTokens,
    outputTokensCountedFrom: counted.size === 0 ? 'none' : counted.size > 1 ? 'mixed' : [...counted][0]!,
    peakConcurrency: peak,
    ...latencySummaries(samples, ok.map((o) => o.interTokenMs)),
    slo,
    goodput: good / duration,
    goodRequests: good,
    samples,
  };
}
