import { basename, resolve } from 'node:path';
import { type Device, type KvCacheDtype, LLM, type Precision, type QuantizationMethod } from '@ignis/engine';
import { type RequestLimits, createServer } from '@ignis/server';
import { defaultModelDir } from '../default-model.js';
import type { CliIO } from '../io.js';
import { watchStopSignals } from '../stop-signals.js';

/** The options of `ignis serve`, as commander parses them. */
export interface ServeOptions extends Partial<RequestLimits> {
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
  quantization: QuantizationMethod;
  kvCacheDtype: KvCacheDtype;
  apiKey?: string;
  maxWaitingRequests?: number;
  shutdownGrace: number;
}

/**
 * Loads the model and serves the OpenAI API until SIGTERM or SIGINT; then stops accepting, lets
 * running requests finish within the grace period, and resolves (exit code 0). A second signal
 * while draining is ignored; a third exits at once (exit code 1). Request log lines (JSON) go to
 * stdout; the banner and shutdown notes to stderr.
 */
export async function runServe(options: ServeOptions, io: CliIO): Promise<void> {
  const model = options.model ?? defaultModelDir();
  const llm = await LLM.load(model, {
    device: options.device,
    dtype: options.dtype,
    quantization: options.quantization,
    kvCacheDtype: options.kvCacheDtype,
    maxModelLen: options.maxModelLen,
    maxNumSeqs: options.maxNumSeqs,
    maxNumBatchedTokens: options.maxNumBatchedTokens,
    gpuMemoryUtilization: options.gpuMemoryUtilization,
    checkWeights: options.checkWeights,
  });
  const signals = watchStopSignals(io, (signal) => {
    io.stderr(`[ignis] ${signal} a third time: exiting now; running requests are cut off\n`);
    process.exit(1);
  });
  try {
    const modelName = options.servedModelName ?? defaultServedModelName(model);
    const app = await createServer(llm, {
      modelName,
      apiKey: options.apiKey,
      maxWaitingRequests: options.maxWaitingRequests,
      shutdownGraceMs: options.shutdownGrace * 1000,
      maxBodyBytes: options.maxBodyBytes,
      maxPromptChars: options.maxPromptChars,
      maxChatMessages: options.maxChatMessages,
      maxSequencesPerRequest: options.maxSequencesPerRequest,
      maxStopStrings: options.maxStopStrings,
      maxStopStringChars: options.maxStopStringChars,
      logger: { level: 'info', stream: { write: (line: string) => io.stdout(line) } },
    });
    const address = await app.listen({ host: options.host, port: options.port });
    io.stderr(
      `[ignis] serving ${modelName} on ${llm.device} (${llm.dtype}, weights: ${llm.weightFormats}; KV cache ${llm.kvCacheDtype}), context ${llm.maxModelLen} tokens, ` +
        `OpenAI API at ${address}/v1${options.apiKey === undefined ? '' : ' (API key required)'}\n`,
    );
    const signal = await signals.stopped;
    io.stderr(`[ignis] ${signal}: no new requests; running ones have ${options.shutdownGrace} s to finish\n`);
    await app.close();
    io.stderr('[ignis] stopped\n');
  } finally {
    signals.dispose();
    llm.dispose();
  }
}

/**
 * The name requests and metrics use when --served-model-name is not given: the model directory's
 * base name (`synthetic:NAME` as it is). Not the --model string, as vLLM uses: that is often a
 * path, and /v1/models and the unauthenticated /metrics would show it to anyone.
 */
export function defaultServedModelName(model: string): string {
  if (model.startsWith('synthetic:')) return model;
  return basename(resolve(model)) || 'model';
}
