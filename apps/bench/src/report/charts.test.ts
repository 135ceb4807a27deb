import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CompareReport } from '../compare.js';
import type { KernelsReport } from '../kernels/run.js';
import type { LatencyReport } from '../latency.js';
import { chartsFor, renderPng, renderSvg } from './charts.js';
import { chartFonts } from './fonts.js';
import { markdownReport } from './markdown.js';
import type { BenchResult, HostInfo } from './results.js';

const host: HostInfo = { hostname: 'h', os: 'linux', cpu: 'cpu', cpus: 1, node: 'v20', gpu: 'NVIDIA H200', driverVersion: 13000 };
const envelope = { createdAt: '2026-11-21T00:00:00Z', host, options: {} };

// Results as a GPU run would write them (the CPU tests cannot make kernel rows or peer numbers).
const kernels = {
  model: 'synthetic:llama-3.1-8b', dtype: 'bf16', device: 'NVIDIA H200', skipped: null, bandwidthGBs: 4200, tflops: 798, ceilingSource: 'measured', failures: [],
  rows: [
    { layer: 'gate_up', tokens: 1, kernel: 'gemm', name: 'gate_up T=1', medianUs: 58, gbs: 4000, tflops: 4, intensity: 1, fractionOfCeiling: 0.96, bound: 'memory' },
    { layer: 'gate_up', tokens: 8192, kernel: 'gemm', name: 'gate_up T=8192', medianUs: 2400, gbs: 500, tflops: 790, intensity: 3000, fractionOfCeiling: 0.99, bound: 'compute' },
    { layer: 'attention', tokens: 64, kernel: 'attention', name: 'decode attention', medianUs: 400, gbs: 2700, tflops: 2.7, intensity: 1, fractionOfCeiling: 0.64, bound: 'memory' },
  ],
} satisfies KernelsReport;
const latency = (concurrency: number, rate: number): LatencyReport => {
  const median = { timeToFirstTokenMs: 7, decodeTokensPerSecond: rate, msPerOutputToken: (1000 * concurrency) / rate };
  const memory = { hostPeakBytes: 1, deviceUsedBytes: 1, deviceTotalBytes: 1 };
  return { model: 'm', device: 'NVIDIA H200', dtype: 'bf16', quantization: 'none', kvCacheDtype: 'bf16', inputLen: 128, outputLen: 128, concurrency, runs: [median], median, bytesPerDecodeStep: 16e9, weightBytes: 16e9, achievedGBs: 3000, ceilingGBs: 4800, ceilingSource: 'H200 datasheet', measuredCopyGBs: 4200, fractionOfCeiling: 0.6, fractionOfMeasuredCopy: 0.7, boundTokensPerSecond: 300, memory };
};
const ours = { engine: 'ignis', numRequests: 1000, elapsedSeconds: 10, inputTokens: 1, outputTokens: 1, requestsPerSecond: 100, outputTokensPerSecond: 12800, totalTokensPerSecond: 25600, error: null, details: {} };
const compare = { ours, peers: [{ ...ours, engine: 'transformers-static', outputTokensPerSecond: 5000 }, { ...ours, engine: 'transformers-continuous', outputTokensPerSecond: null, error: 'OutOfMemoryError: boom' }], ratios: [{ peer: 'transformers-static', outputTokensPerSecond: 2.56 }], model: 'm', device: 'd', dtype: 'bf16', workload: 'w' } as unknown as CompareReport;

describe('charts', () => {
  it('draws the roofline, throughput against concurrency and the comparison, as SVG and PNG', async () => {
    const results: BenchResult[] = [
      { ...envelope, kind: 'kernels', name: 'kernels', runs: [kernels] },
      { ...envelope, kind: 'latency', name: 'latency', runs: [latency(1, 190), latency(8, 1400), latency(64, 8000)] },
      { ...envelope, kind: 'compare', name: 'compare', runs: [compare] },
    ];
    const charts = chartsFor(results);
    expect(charts.map((c) => c.name)).toEqual(['throughput-vs-concurrency', 'kernel-roofline', 'compare']);
    for (const c of charts) {
      const svg = await renderSvg(c);
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain(c.title.slice(0, 20));
      const png = renderPng(svg);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(10_000);
    }
    // PNG text must not depend on system fonts (GPU machines have none).
    expect(chartFonts().map((f) => existsSync(f))).toEqual([true, true]);
    const md = markdownReport(results, charts);
    expect(md).toContain('ours / transformers-static = 2.56x');
    expect(md).toContain('failed: OutOfMemoryError: boom');
    expect(md).toContain('![Kernel roofline');
  });
});
