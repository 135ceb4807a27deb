import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetRequest } from './dataset/format.js';
import { toJsonl } from './dataset/format.js';
import { hfConfig } from './model-spec.js';
import { packageDir } from './paths.js';
import { type Progress, silentProgress } from './progress.js';
import { type EngineOptions, type ThroughputReport, runThroughput } from './throughput.js';

/** Peers `compare` can run. (node-llama-cpp is not among them yet.) */
export const PEERS = ['transformers-static', 'transformers-continuous'] as const;
export type PeerName = (typeof PEERS)[number];

/** Options of `ignis-bench compare`. */
export interface CompareOptions extends EngineOptions {
  requests: readonly DatasetRequest[];
  workload: string;
  peers: readonly PeerName[];
  /** Requests each peer runs (the first N of the workload; all by default), for peers too slow for the whole of it. */
  peerRequests: Partial<Record<PeerName, number>>;
  /** transformers' static batch size. */
  batchSize: number;
  python: string;
  peerTimeoutSeconds: number;
}

/** One engine's result on the workload. */
export interface EngineResult {
  readonly engine: string;
  readonly numRequests: number;
  readonly elapsedSeconds: number | null;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly requestsPerSecond: number | null;
  readonly outputTokensPerSecond: number | null;
  readonly totalTokensPerSecond: number | null;
  /** Why it has no numbers. */
  readonly error: string | null;
  /** What the peer reported about itself (device, versions, batch size). */
  readonly details: Record<string, unknown>;
}

/** What `compare` reports (JSON with --json or --output). */
export interface CompareReport {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  readonly workload: string;
  readonly ours: EngineResult;
  readonly ourThroughput: ThroughputReport;
  readonly peers: readonly EngineResult[];
  /** Our output tokens/s over each peer's that ran. */
  readonly ratios: readonly { readonly peer: string; readonly outputTokensPerSecond: number }[];
}

/**
 * Runs the workload on our engine, frees the GPU, then on each peer in the same invocation, on
 * the same GPU, with a model of the same shape (random weights) and the same prompts, and
 * reports the ratios of output tokens/s.
 */
export async function runCompare(options: CompareOptions, log: (line: string) => void, progress: Progress = silentProgress): Promise<CompareReport> {
  log(`ours: ${options.requests.length} requests`);
  const ours = await runThroughput(options, progress);
  const oursResult: EngineResult = {
    engine: 'ignis',
    numRequests: ours.numRequests,
    elapsedSeconds: ours.elapsedSeconds,
    inputTokens: ours.inputTokens,
    outputTokens: ours.outputTokens,
    requestsPerSecond: ours.requestsPerSecond,
    outputTokensPerSecond: ours.outputTokensPerSecond,
    totalTokensPerSecond: ours.totalTokensPerSecond,
    error: null,
    details: { maxNumSeqs: options.maxNumSeqs ?? null },
  };
  const peers = options.peers.length > 0 ? await runTransformers(options, log) : [];
  return {
    model: options.model,
    device: ours.device,
    dtype: ours.dtype,
    workload: options.workload,
    ours: oursResult,
    ourThroughput: ours,
    peers,
    ratios: peers.flatMap((p) => (p.outputTokensPerSecond ? [{ peer: p.engine, outputTokensPerSecond: ours.outputTokensPerSecond / p.outputTokensPerSecond }] : [])),
  };
}

/** Every transformers mode in one Python process (the model is built once). */
async function runTransformers(options: CompareOptions, log: (line: string) => void): Promise<EngineResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ignis-compare-'));
  try {
    await writeFile(join(dir, 'config.json'), JSON.stringify(await hfConfig(options.model)));
    await writeFile(join(dir, 'requests.jsonl'), toJsonl(options.requests));
    const modes = options.peers.map((peer) => {
      const n = Math.min(options.requests.length, options.peerRequests[peer] ?? options.requests.length);
      return `${peer.replace('transformers-', '')}:${n}`;
    });
    const script = join(packageDir(), 'peers', 'transformers_bench.py');
    const args = [script, '--config', join(dir, 'config.json'), '--dataset', join(dir, 'requests.jsonl'), '--batch-size', `${options.batchSize}`];
    log(`transformers: ${options.python} ${args.join(' ')} ${modes.map((m) => `--mode ${m}`).join(' ')}`);
    const run = await spawnCollect(options.python, [...args, ...modes.flatMap((m) => ['--mode', m])], options.peerTimeoutSeconds, log);
    const lines = run.stdout.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    return options.peers.map((peer, i) => {
      const line = lines.find((l) => l.engine === peer);
      const n = Number(modes[i]!.split(':')[1]);
      if (!line) return failed(peer, n, String(lines.find((l) => l.error)?.error ?? run.failure ?? `no result (exit ${run.code})`));
      if (line.error) return failed(peer, n, String(line.error));
      const { engine: _engine, numRequests, elapsedSeconds, inputTokens, outputTokens, requestsPerSecond, outputTokensPerSecond, totalTokensPerSecond, error: _error, ...details } = line;
      return {
        engine: peer,
        numRequests: Number(numRequests),
        elapsedSeconds: Number(elapsedSeconds),
        inputTokens: Number(inputTokens),
        outputTokens: Number(outputTokens),
        requestsPerSecond: Number(requestsPerSecond),
        outputTokensPerSecond: Number(outputTokensPerSecond),
        totalTokensPerSecond: Number(totalTokensPerSecond),
        error: null,
        details,
      };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function failed(engine: string, numRequests: number, error: string): EngineResult {
  const none = { elapsedSeconds: null, inputTokens: null, outputTokens: null, requestsPerSecond: null, outputTokensPerSecond: null, totalTokensPerSecond: null };
  return { engine, numRequests, ...none, error, details: {} };
}

/** Runs a command to its end (or kills it at the time limit): stdout, exit code, and why it failed; its stderr goes to `log`. */
function spawnCollect(command: string, args: string[], timeoutSeconds: number, log: (line: string) => void): Promise<{ stdout: string; code: number | null; failure?: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let lastError = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lastError = line;
        log(`  ${line}`);
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ stdout, code: null, failure: `could not start ${command}: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const failure = signal === 'SIGKILL' ? `timed out after ${timeoutSeconds} s` : code !== 0 ? lastError || `exit ${code}` : undefined;
      resolve({ stdout, code, failure });
    });
  });
}
