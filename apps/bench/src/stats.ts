/** Mean and percentiles of a sample (p in [0, 100], nearest rank). */
export interface Summary {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { mean: 0, p50: 0, p90: 0, p95: 0, p99: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p50: at(50), p90: at(90), p95: at(95), p99: at(99) };
}

export const median = (values: readonly number[]): number => summarize(values).p50;
