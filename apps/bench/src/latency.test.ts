import { fixturePath } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { bandwidthCeiling } from './gpus.js';
import { runLatency } from './latency.js';

describe('ignis-bench latency', () => {
  it('measures a fixture model on the CPU at two concurrencies and reports consistent numbers', async () => {
    const lines: string[] = [];
    const options = { model: fixturePath('llama3-gqa-sharded'), device: 'cpu', dtype: 'auto', enablePrefixCaching: true } as const;
    const reports = await runLatency({ ...options, inputLen: 16, outputLen: 8, concurrency: [1, 3], iterations: 2, warmup: 1 }, (line) => lines.push(line));
    expect(reports.map((r) => r.concurrency)).toEqual([1, 3]);
    expect(lines).toHaveLength(6);
    // 2 layers x (K and V) x 2 kv heads x 16 dims x 4 bytes per token; weights counted from the graph.
    const kvPerToken = 2 * 2 * 2 * 16 * 4;
    for (const report of reports) {
      expect(report.runs).toHaveLength(2);
      expect(report.device).toBe('cpu');
      expect(report.ceilingGBs).toBeNull();
      expect(report.fractionOfCeiling).toBeNull();
      for (const run of report.runs) {
        expect(run.decodeTokensPerSecond).toBeGreaterThan(0);
        // Every sequence decodes at 1000 / msPerOutputToken; the run's rate adds them up.
        expect(run.decodeTokensPerSecond).toBeGreaterThanOrEqual((report.concurrency * 1000) / run.msPerOutputToken - 1e-6);
      }
      expect(report.bytesPerDecodeStep).toBe(report.weightBytes + report.concurrency * (16 + 8 / 2) * kvPerToken);
      expect(report.achievedGBs).toBeCloseTo((report.bytesPerDecodeStep * 1000) / report.median.msPerOutputToken / 1e9, 9);
    }
  });

  it('takes the ceiling from the datasheet table, or from the flag', () => {
    expect(bandwidthCeiling('NVIDIA H200')).toMatchObject({ ceilingGBs: 4800, measuredCopyGBs: 4200 });
    expect(bandwidthCeiling('NVIDIA H100 80GB HBM3')).toMatchObject({ ceilingGBs: 3350, measuredCopyGBs: 3000 });
    expect(bandwidthCeiling('NVIDIA H100 80GB HBM3', 2000)).toMatchObject({ ceilingGBs: 2000, ceilingSource: '--bandwidth-gbs' });
    expect(bandwidthCeiling('Some GPU').ceilingGBs).toBeNull();
    expect(bandwidthCeiling(undefined).ceilingSource).toBe('no GPU');
  });
});
