import { fixturePath } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { runThroughput } from './throughput.js';

describe('ignis-bench throughput', () => {
  it('runs every request to its full length, batched, and reports consistent numbers', async () => {
    const lines: string[] = [];
    const options = { model: fixturePath('llama3-gqa-sharded'), device: 'cpu', dtype: 'auto', inputLen: 40, outputLen: 6, sharedPrefix: 32 } as const;
    const report = await runThroughput({ ...options, numRequests: 30, enablePrefixCaching: true }, (line) => lines.push(line));
    expect(lines).toHaveLength(10);
    expect(report.outputTokens).toBe(30 * 6);
    expect(report.outputTokensPerSecond).toBeCloseTo(report.outputTokens / report.elapsedSeconds, 6);
    expect(report.totalTokensPerSecond).toBeCloseTo((30 * 46) / report.elapsedSeconds, 6);
    expect(report.meanBatchSize).toBeGreaterThan(4); // requests really shared steps
    // Two shared full blocks of 16 per prompt; the first prompt computes them (its warm-up did already).
    expect(report.prefixCacheHitRate).toBeCloseTo(32 / 40, 6);
    expect(report.timeToFirstTokenMs.p50).toBeLessThanOrEqual(report.endToEndMs.p50);
    const uncached = await runThroughput({ ...options, numRequests: 10, enablePrefixCaching: false }, () => undefined);
    expect(uncached.prefixCacheHitRate).toBe(0);
  });
});
