import type { CompareReport } from '../compare.js';
import type { KernelsReport } from '../kernels/run.js';
import type { LatencyReport } from '../latency.js';
import type { ServeReport } from '../serve/load.js';
import { describeSlo } from '../serve/slo.js';
import type { Summary } from '../stats.js';
import type { ThroughputReport } from '../throughput.js';
import { type Table, gib, num, pct } from './table.js';

const p50p99 = (s: Summary): string => `${num(s.p50)} / ${num(s.p99)}`;

/** Device and precision, e.g. `cuda bf16, fp8 weights, fp8 KV` (reports from before quantization have neither field). */
const precision = (r: { device: string; dtype: string; quantization?: string; kvCacheDtype?: string }): string =>
  `${r.device} ${r.dtype}${r.quantization === 'fp8' ? ', fp8 weights' : ''}${r.kvCacheDtype === 'fp8e4m3' ? ', fp8 KV' : ''}`;

export function throughputTable(runs: readonly ThroughputReport[]): Table {
  return {
    headers: ['model', 'device', 'workload', 'requests', 'req/s', 'output tok/s', 'total tok/s', 'TTFT p50/p99 ms', 'TPOT p50/p99 ms', 'E2E p50/p99 ms', 'prefix hits', 'peak KV', 'preempted', 'batch', 'GPU mem'],
    rows: runs.map((r) => [
      r.model,
      precision(r),
      r.workload,
      `${r.numRequests}`,
      num(r.requestsPerSecond, 2),
      num(r.outputTokensPerSecond),
      num(r.totalTokensPerSecond),
      p50p99(r.timeToFirstTokenMs),
      p50p99(r.timePerOutputTokenMs),
      p50p99(r.endToEndMs),
      pct(r.prefixCacheHitRate),
      pct(r.peakKvCacheUsage),
      `${r.preemptions}`,
      num(r.meanBatchSize),
      gib(r.memory.deviceUsedBytes),
    ]),
  };
}

export function latencyTable(runs: readonly LatencyReport[]): Table {
  return {
    headers: ['model', 'device', 'in/out', 'concurrency', 'TTFT ms', 'decode tok/s', 'ms/token', 'GB/s', 'of ceiling', 'ceiling', 'of measured copy', 'bound tok/s'],
    rows: runs.map((r) => [
      r.model,
      precision(r),
      `${r.inputLen}/${r.outputLen}`,
      `${r.concurrency}`,
      num(r.median.timeToFirstTokenMs),
      num(r.median.decodeTokensPerSecond),
      num(r.median.msPerOutputToken, 2),
      num(r.achievedGBs, 0),
      pct(r.fractionOfCeiling),
      r.ceilingGBs ? `${r.ceilingGBs} GB/s (${r.ceilingSource})` : r.ceilingSource,
      pct(r.fractionOfMeasuredCopy),
      num(r.boundTokensPerSecond, 0),
    ]),
  };
}

export function serveTable(runs: readonly ServeReport[]): Table {
  return {
    headers: ['load', 'ok / failed', 'req/s', 'output tok/s', 'TTFT p50/p99 ms', 'TPOT p50/p99 ms', 'ITL p50/p99 ms', 'E2E p50/p99 ms', 'goodput req/s', 'SLO'],
    rows: runs.map((r) => [
      loadLabel(r),
      `${r.completed} / ${r.failed}`,
      num(r.requestsPerSecond, 2),
      num(r.outputTokensPerSecond),
      p50p99(r.timeToFirstTokenMs),
      p50p99(r.timePerOutputTokenMs),
      p50p99(r.interTokenLatencyMs),
      p50p99(r.endToEndMs),
      `${num(r.goodput, 2)} (${r.goodRequests}/${r.numRequests})`,
      describeSlo(r.slo),
    ]),
  };
}

/** `concurrency 8`, `4 req/s`, `4 req/s, concurrency 8`, or `all at once`. */
export function loadLabel(r: Pick<ServeReport, 'requestRate' | 'concurrency'>): string {
  const parts = [r.requestRate !== null ? `${r.requestRate} req/s` : '', r.concurrency !== null ? `concurrency ${r.concurrency}` : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'all at once';
}

export function kernelsTable(report: KernelsReport): Table {
  return {
    headers: ['layer', 'tokens', 'case', 'median us', 'GB/s', 'TFLOP/s', 'FLOP/byte', 'of ceiling', 'bound'],
    rows: report.rows.map((r) => [r.layer, `${r.tokens}`, r.name, num(r.medianUs), num(r.gbs, 0), num(r.tflops, 1), num(r.intensity, 1), pct(r.fractionOfCeiling), r.bound]),
  };
}

export function compareTable(report: CompareReport): Table {
  const oursRate = report.ours.outputTokensPerSecond!;
  return {
    headers: ['engine', 'requests', 'seconds', 'req/s', 'output tok/s', 'total tok/s', 'ours / it', 'note'],
    rows: [report.ours, ...report.peers].map((e) => [
      e.engine,
      `${e.numRequests}`,
      num(e.elapsedSeconds),
      num(e.requestsPerSecond, 2),
      num(e.outputTokensPerSecond),
      num(e.totalTokensPerSecond),
      e === report.ours ? '-' : e.outputTokensPerSecond ? `${(oursRate / e.outputTokensPerSecond).toFixed(2)}x` : '-',
      e.error ? `failed: ${e.error}` : e.numRequests !== report.ours.numRequests ? `first ${e.numRequests} of ${report.ours.numRequests} requests` : '',
    ]),
  };
}
