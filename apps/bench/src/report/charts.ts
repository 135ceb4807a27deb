import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import type { ServeReport } from '../serve/load.js';
import { chartFonts } from './fonts.js';
import type { ThroughputReport } from '../throughput.js';
import type { BenchResult } from './results.js';
import { loadLabel } from './tables.js';

/** A chart to draw: its file stem, title (the report's caption) and Vega-Lite spec. */
export interface Chart {
  readonly name: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
const CONFIG = { font: FONT, view: { stroke: null }, axis: { gridColor: '#e5e5e5', labelLimit: 320 }, legend: { labelLimit: 480 } };
/** Most points one CDF line keeps (percentiles, evenly spaced). */
const CDF_POINTS = 200;

type Row = Record<string, string | number | null>;

function chart(name: string, title: string, values: Row[], spec: object): Chart {
  return { name, title, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, config: CONFIG, data: { values }, ...spec } as TopLevelSpec };
}

/** (value, fraction of requests at or under it), at most CDF_POINTS points. */
function cdf(values: readonly number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(sorted.length / CDF_POINTS));
  const points: [number, number][] = [];
  for (let i = step - 1; i < sorted.length; i += step) points.push([sorted[i]!, (i + 1) / sorted.length]);
  if (points.at(-1)?.[1] !== 1 && sorted.length > 0) points.push([sorted.at(-1)!, 1]);
  return points;
}

function throughputVsConcurrency(results: readonly BenchResult[]): Chart | undefined {
  const rows: Row[] = [];
  for (const r of results) {
    if (r.kind === 'serve') for (const run of r.runs) if (run.concurrency !== null) rows.push({ series: `serve: ${r.name}`, concurrency: run.concurrency, tokensPerSecond: run.outputTokensPerSecond });
    if (r.kind === 'latency') for (const run of r.runs) rows.push({ series: `latency (decode): ${r.name}`, concurrency: run.concurrency, tokensPerSecond: run.median.decodeTokensPerSecond });
  }
  if (rows.length === 0) return undefined;
  return chart('throughput-vs-concurrency', 'Output tokens/s against concurrency', rows, {
    width: 480,
    height: 300,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'concurrency', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'requests in flight' },
      y: { field: 'tokensPerSecond', type: 'quantitative', title: 'output tokens/s' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1 } },
    },
  });
}

/** Per-request samples of the runs that have them, labelled. */
function sampledRuns(results: readonly BenchResult[]): { label: string; run: ThroughputReport | ServeReport }[] {
  return results.flatMap((r): { label: string; run: ThroughputReport | ServeReport }[] =>
    r.kind === 'throughput'
      ? r.runs.map((run) => ({ label: `throughput: ${r.name}`, run }))
      : r.kind === 'serve'
        ? r.runs.map((run) => ({ label: `serve: ${r.name}, ${loadLabel(run)}`, run }))
        : [],
  );
}

function latencyCdf(results: readonly BenchResult[]): Chart | undefined {
  const rows: Row[] = [];
  for (const { label, run } of sampledRuns(results)) {
    for (const [metric, values] of [
      ['time to first token (ms)', run.samples.map((s) => s.ttftMs)],
      ['end to end (ms)', run.samples.map((s) => s.e2eMs)],
    ] as const) {
      for (const [ms, fraction] of cdf(values)) rows.push({ run: label, metric, ms, fraction });
    }
  }
  if (rows.length === 0) return undefined;
  return chart('latency-cdf', 'Latency CDFs: share of requests at or under a latency', rows, {
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['time to first token (ms)', 'end to end (ms)'] } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'ms', type: 'quantitative', title: 'ms' },
        y: { field: 'fraction', type: 'quantitative', title: 'share of requests', axis: { format: '%' } },
        color: { field: 'run', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1 } },
      },
    },
    resolve: { scale: { x: 'independent' } },
  });
}

function percentiles(results: readonly BenchResult[]): Chart | undefined {
  const rows: Row[] = [];
  for (const { label, run } of sampledRuns(results)) {
    for (const [metric, summary] of [
      ['TTFT (ms)', run.timeToFirstTokenMs],
      ['TPOT (ms)', run.timePerOutputTokenMs],
    ] as const) {
      for (const p of ['p50', 'p90', 'p95', 'p99'] as const) rows.push({ run: label, metric, percentile: p, ms: summary[p] });
    }
  }
  if (rows.length === 0) return undefined;
  return chart('ttft-tpot-percentiles', 'TTFT and TPOT percentiles', rows, {
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['TTFT (ms)', 'TPOT (ms)'] } },
    spec: {
      width: 300,
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'percentile', type: 'nominal', title: null, sort: ['p50', 'p90', 'p95', 'p99'] },
        xOffset: { field: 'run', type: 'nominal' },
        y: { field: 'ms', type: 'quantitative', title: 'ms' },
        color: { field: 'run', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1 } },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
}

function roofline(results: readonly BenchResult[]): Chart | undefined {
  const report = results.flatMap((r) => (r.kind === 'kernels' ? r.runs : [])).find((k) => k.rows.length > 0);
  if (!report) return undefined;
  const points: Row[] = report.rows.map((k) => ({ layer: `${k.layer}`, tokens: k.tokens, intensity: k.intensity, tflops: k.tflops, name: k.name }));
  const lo = Math.min(...report.rows.map((k) => k.intensity)) / 2;
  const hi = Math.max(...report.rows.map((k) => k.intensity)) * 2;
  const ridge = (report.tflops * 1e12) / (report.bandwidthGBs * 1e9);
  const ceiling: Row[] = [lo, Math.min(Math.max(ridge, lo), hi), hi].map((i) => ({ intensity: i, tflops: Math.min(report.tflops, (report.bandwidthGBs * i) / 1000) }));
  const scale = { type: 'log' };
  return chart('kernel-roofline', `Kernel roofline: ${report.model} shapes on ${report.device} (${report.bandwidthGBs} GB/s, ${report.tflops} TFLOP/s)`, [], {
    width: 480,
    height: 320,
    layer: [
      {
        data: { values: ceiling },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'intensity', type: 'quantitative', scale }, y: { field: 'tflops', type: 'quantitative', scale } },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'intensity', type: 'quantitative', scale, title: 'FLOP per byte' },
          y: { field: 'tflops', type: 'quantitative', scale, title: 'TFLOP/s' },
          color: { field: 'layer', type: 'nominal', title: 'layer' },
          shape: { field: 'tokens', type: 'nominal', title: 'tokens', sort: 'ascending' },
        },
      },
    ],
  });
}

function comparison(results: readonly BenchResult[]): Chart | undefined {
  const rows: Row[] = [];
  for (const r of results) {
    if (r.kind !== 'compare') continue;
    for (const run of r.runs) {
      for (const e of [run.ours, ...run.peers]) if (e.outputTokensPerSecond) rows.push({ workload: `${r.name}`, engine: e.engine, tokensPerSecond: e.outputTokensPerSecond });
    }
  }
  if (rows.length === 0) return undefined;
  const encoding = {
    y: { field: 'engine', type: 'nominal', title: null },
    yOffset: { field: 'workload', type: 'nominal' },
    x: { field: 'tokensPerSecond', type: 'quantitative', title: 'output tokens/s' },
  };
  return chart('compare', 'Output tokens/s, same GPU, same workload', rows, {
    width: 420,
    height: 240,
    encoding,
    layer: [
      { mark: 'bar', encoding: { color: { field: 'workload', type: 'nominal', legend: { orient: 'bottom' } } } },
      { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'tokensPerSecond', type: 'quantitative', format: ',.0f' } } },
    ],
  });
}

/** The charts the results hold data for. */
export function chartsFor(results: readonly BenchResult[]): Chart[] {
  return [throughputVsConcurrency, latencyCdf, percentiles, roofline, comparison].flatMap((make) => make(results) ?? []);
}

/** Renders a chart to SVG (Vega, headless: no browser, no canvas). */
export async function renderSvg(c: Chart): Promise<string> {
  const view = new View(parse(compile(c.spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG to PNG at twice its size (resvg, with DejaVu Sans shipped alongside: GPU machines have no fonts). */
export function renderPng(svg: string): Buffer {
  const font = { fontFiles: chartFonts(), loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' };
  const resvg = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font });
  return resvg.render().asPng();
}

/** Writes NAME.svg and NAME.png for every chart; returns the charts written. */
export async function writeCharts(dir: string, charts: readonly Chart[]): Promise<Chart[]> {
  for (const c of charts) {
    const svg = await renderSvg(c);
    await writeFile(join(dir, `${c.name}.svg`), svg);
    await writeFile(join(dir, `${c.name}.png`), renderPng(svg));
  }
  return [...charts];
}
