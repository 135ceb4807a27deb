import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, platform, release } from 'node:os';
import { join } from 'node:path';
import { probeCuda } from '@ignis/cuda-kernels';
import type { CompareReport } from '../compare.js';
import type { KernelsReport } from '../kernels/run.js';
import type { LatencyReport } from '../latency.js';
import type { ServeReport } from '../serve/load.js';
import type { ThroughputReport } from '../throughput.js';

/** Where a result was measured. */
export interface HostInfo {
  readonly hostname: string;
  readonly os: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly node: string;
  /** The GPU's name, or null when none is usable. */
  readonly gpu: string | null;
  /** The CUDA driver API version (13000 is 13.0), or null. */
  readonly driverVersion: number | null;
}

interface Envelope<K extends string, R> {
  readonly kind: K;
  /** The file's name without .json: one experiment (re-running it replaces the file). */
  readonly name: string;
  readonly createdAt: string;
  readonly host: HostInfo;
  /** The command line's options, as parsed. */
  readonly options: Record<string, unknown>;
  /** One entry per measured point (a sweep gives several). */
  readonly runs: readonly R[];
}

/** One `--output` JSON file. */
export type BenchResult =
  | Envelope<'throughput', ThroughputReport>
  | Envelope<'latency', LatencyReport>
  | Envelope<'serve', ServeReport>
  | Envelope<'kernels', KernelsReport>
  | Envelope<'compare', CompareReport>;

type ResultKind = BenchResult['kind'];

/** A kind with its runs: what a command measured, before it is wrapped. */
export type Measured = { [K in ResultKind]: Pick<Extract<BenchResult, { kind: K }>, 'kind' | 'runs'> }[ResultKind];

function hostInfo(): HostInfo {
  const probe = probeCuda();
  return {
    hostname: hostname(),
    os: `${platform()} ${release()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    node: process.version,
    gpu: probe.available ? (probe.device?.name ?? null) : null,
    driverVersion: probe.available ? (probe.device?.driverVersion ?? null) : null,
  };
}

/** Wraps a command's runs for its JSON file. */
export function result(measured: Measured, name: string, options: object): BenchResult {
  return { ...measured, name, createdAt: new Date().toISOString(), host: hostInfo(), options: { ...options } } as BenchResult;
}

/** Writes `DIR/NAME.json`; returns its path. */
export async function saveResult(dir: string, r: BenchResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${r.name}.json`);
  await writeFile(path, `${JSON.stringify(r, null, 1)}\n`);
  return path;
}

const KINDS: readonly string[] = ['throughput', 'latency', 'serve', 'kernels', 'compare'];

/** Every result file in `dir` (other JSON files are skipped), by kind then name. */
export async function loadResults(dir: string): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = JSON.parse(await readFile(join(dir, file), 'utf8')) as Partial<BenchResult>;
    if (typeof parsed.kind === 'string' && KINDS.includes(parsed.kind) && Array.isArray(parsed.runs)) results.push(parsed as BenchResult);
  }
  return results.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.name.localeCompare(b.name));
}
