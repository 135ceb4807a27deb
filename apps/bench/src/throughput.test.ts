import { fixturePath } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { syntheticRequests } from './dataset/synthetic.js';
import { runThroughput } from './throughput.js';

const engine = { model: fixturePath('llama3-gqa-sharded'), device: 'cpu', dtype: 'auto', enablePrefixCaching: true } as const;

describe('ignis-bench throughput', () => {
  it('runs every request to its full length, batched, and reports consistent numbers', async () => {
    // 30 requests of 40 tokens whose first 32 (two full KV blocks) are shared, 6 output tokens each.
    const requests = await syntheticRequests({
      numRequests: 30,
      input: { kind: 'fixed', value: 8 },
      output: { kind: 'fixed', value: 6 },
      vocabSize: 320,
      seed: 1,
      prefix: { groups: 1, length: 32 },
    });
    const updates: number[] = [];
    const report = await runThroughput({ ...engine, requests, workload: 'test' }, { update: (done) => updates.push(done), end: () => undefined });
    expect(updates.at(-1)).toBe(30);
    expect(report.outputTokens).toBe(30 * 6);
    expect(report.inputTokens).toBe(30 * 40);
    expect(report.samples).toHaveLength(30);
    expect(report.samples.every((s) => s.outputTokens === 6 && s.inputTokens === 40 && s.ttftMs <= s.e2eMs)).toBe(true);
    expect(report.outputTokensPerSecond).toBeCloseTo(report.outputTokens / report.elapsedSeconds, 6);
    expect(report.totalTokensPerSecond).toBeCloseTo((30 * 46) / report.elapsedSeconds, 6);
    expect(report.requestsPerSecond).toBeCloseTo(30 / report.elapsedSeconds, 6);
    expect(report.meanBatchSize).toBeGreaterThan(4); // requests really shared steps
    // The cache starts cold: requests admitted with the first cannot reuse its blocks, later ones reuse both.
    expect(report.prefixCacheHitRate).toBeGreaterThan(0.3);
    expect(report.prefixCacheHitRate).toBeLessThanOrEqual(32 / 40);
    expect(report.reusedPromptTokens % 16).toBe(0);
    expect(report.peakKvCacheUsage).toBeGreaterThan(0);
    expect(report.kvCacheBytes).toBeGreaterThan(0);
    expect(report.memory.hostPeakBytes).toBeGreaterThan(0);
    expect(report.memory.deviceUsedBytes).toBeNull();
    expect(report.timeToFirstTokenMs.p50).toBeLessThanOrEqual(report.endToEndMs.p50);
    expect(report.interTokenLatencyMs.mean).toBeGreaterThan(0);
    const uncached = await runThroughput({ ...engine, requests: requests.slice(0, 10), workload: 'test', enablePrefixCaching: false });
    expect(uncached.prefixCacheHitRate).toBe(0);
  });
});
