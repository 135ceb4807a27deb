import { basename } from 'node:path';
import { type Device, LLM, type Precision } from '@ignis/engine';
import { createServer } from '@ignis/server';
import { defaultModelDir } from '../default-model.js';
import type { CliIO } from '../io.js';

/** The options of `ignis serve`, as commander parses them. */
export interface ServeOptions {
  model?: string;
  host: string;
  port: number;
  servedModelName?: string;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  maxModelLen?: number;
  gpuMemoryUtilization?: number;
  checkWeights: boolean;
  device: Device;
  dtype: Precision;
  apiKey?: string;
  maxWaitingRequests?: number;
  shutdownGrace: number;
}

/** What ends a server: SIGTERM (a supervisor) or SIGINT (Ctrl-C). */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Loads the model and serves the OpenAI API until SIGTERM or SIGINT; then stops accepting, lets
 * running requests finish within the grace period, and resolves (exit code 0). Request log lines
 * (JSON) go to stdout; the banner and shutdown notes to stderr.
 */
export async function runServe(options: ServeOptions, io: CliIO): Promise<void> {
  const model = options.model ?? defaultModelDir();
  const llm = await LLM.load(model, {
    device: options.device,
    dtype: options.dtype,
    maxModelLen: options.maxModelLen,
    maxNumSeqs: options.maxNumSeqs,
    maxNumBatchedTokens: options.maxNumBatchedTokens,
    gpuMemoryUtilization: options.gpuMemoryUtilization,
    checkWeights: options.checkWeights,
  });
  try {
    // As vLLM: the model is named as --model gave it; the bundled one by its directory's name.
    const modelName = options.servedModelName ?? options.model ?? basename(model);
    const app = await createServer(llm, {
      modelName,
      apiKey: options.apiKey,
      maxWaitingRequests: options.maxWaitingRequests,
      shutdownGraceMs: options.shutdownGrace * 1000,
      logger: { level: 'info', stream: { write: (line: string) => io.stdout(line) } },
    });
    const address = await app.listen({ host: options.host, port: options.port });
    io.stderr(
      `[ignis] serving ${modelName} on ${llm.device} (${llm.dtype}), context ${llm.maxModelLen} tokens, ` +
        `OpenAI API at ${address}/v1${options.apiKey === undefined ? '' : ' (API key required)'}\n`,
    );
    const signal = await nextStopSignal();
    io.stderr(`[ignis] ${signal}: no new requests; running ones have ${options.shutdownGrace} s to finish\n`);
    await app.close();
    io.stderr('[ignis] stopped\n');
  } finally {
    llm.dispose();
  }
}

/** The first of SIGTERM and SIGINT to arrive (handled: the process does not die of it). */
function nextStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      for (const s of STOP_SIGNALS) process.off(s, stop);
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}
