import type { Command } from 'commander';
import { PEERS, type PeerName, runCompare } from '../compare.js';
import type { CliIO } from '../io.js';
import { modelSpec } from '../model-spec.js';
import { compareTable } from '../report/tables.js';
import { type EngineFlags, type OutputFlags, type WorkloadFlags, addEngineOptions, addOutputOptions, addWorkloadOptions, engineOptions, finish, workload } from './common.js';
import { countsByName, integerAtLeast, numberAbove } from './parse.js';

type CompareFlags = EngineFlags &
  WorkloadFlags &
  OutputFlags & { peers: string; peerRequests?: Record<string, number>; batchSize: number; python: string; peerTimeout: number };

export function registerCompare(program: Command, io: CliIO): void {
  const command = program
    .command('compare')
    .description('our engine and peers (Hugging Face transformers) on the same GPU, model shape and requests, in one invocation: output tokens/s and their ratios');
  addEngineOptions(command);
  addWorkloadOptions(command, { numRequests: 1000, inputLen: 128, outputLen: 128 })
    .option('--peers <list>', `peers to run: ${PEERS.join(', ')}`, PEERS.join(','))
    .option('--peer-requests <list>', 'run only the first N requests on a slow peer, e.g. transformers-continuous=256', countsByName)
    .option('--batch-size <n>', 'transformers static batch size', integerAtLeast(1), 256)
    .option('--python <path>', 'the Python with torch and transformers', 'python3')
    .option('--peer-timeout <s>', 'time limit for all peers, in seconds', numberAbove(0), 1800);
  addOutputOptions(command).action(async (flags: CompareFlags) => {
    const peers = flags.peers.split(',').filter(Boolean).map((p) => p.trim());
    const unknown = [...peers, ...Object.keys(flags.peerRequests ?? {})].filter((p) => !(PEERS as readonly string[]).includes(p));
    if (unknown.length > 0) throw new Error(`unknown peer ${unknown.join(', ')} (known: ${PEERS.join(', ')})`);
    const spec = await modelSpec(flags.model);
    const { requests, description, slug } = await workload(flags, spec.vocabSize);
    if (requests.some((r) => typeof r.prompt === 'string')) throw new Error('compare needs token-id prompts (a dataset made with --tokens ids)');
    const report = await runCompare(
      {
        ...engineOptions(flags),
        requests,
        workload: description,
        peers: peers as PeerName[],
        peerRequests: flags.peerRequests ?? {},
        batchSize: flags.batchSize,
        python: flags.python,
        peerTimeoutSeconds: flags.peerTimeout,
      },
      (line) => io.stderr(`${line}\n`),
      io.progress('requests'),
    );
    const ratios = report.ratios.map((r) => `ours / ${r.peer} = ${r.outputTokensPerSecond.toFixed(2)}x`);
    const failures = report.peers.filter((p) => p.error).map((p) => `${p.engine} failed: ${p.error}`);
    await finish(io, { kind: 'compare', runs: [report] }, `compare-${slug}`, flags, [compareTable(report)], [...ratios, ...failures]);
  });
}
