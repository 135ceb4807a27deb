import { fixturePath } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { runLatency } from './latency.js';

describe('ignis-bench latency', () => {
  it('measures a fixture model on the CPU and reports consistent numbers', async () => {
    const lines: string[] = [];
    const report = await runLatency(
      { model: fixturePath('llama3-gqa-sharded'), device: 'cpu', dtype: 'auto', inputLen: 16, outputLen: 8, iterations: 2, warmup: 1 },
      (line) => lines.push(line),
    );
    expect(report.runs).toHaveLength(2);
    expect(lines).toHaveLength(3);
    expect(report.device).toBe('cpu');
    expect(report.ceilingGBs).toBeUndefined();
    for (const run of report.runs) {
      expect(run.decodeTokensPerSecond).toBeGreaterThan(0);
      expect(run.msPerOutputToken).toBeCloseTo(1000 / run.decodeTokensPerSecond, 6);
    }
    // 2 layers x (K and V) x 2 kv heads x 16 dims x 4 bytes per token; weights counted from the graph.
    const kvPerToken = 2 * 2 * 2 * 16 * 4;
    expect(report.bytesPerDecodeStep - (16 + 8 / 2) * kvPerToken).toBeGreaterThan(0);
    expect(report.achievedGBs).toBeCloseTo((report.bytesPerDecodeStep * report.median.decodeTokensPerSecond) / 1e9, 9);
  });
});
