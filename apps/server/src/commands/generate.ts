import { type Device, type KvCacheDtype, LLM, type Precision, type QuantizationMethod } from '@ignis/engine';
import { defaultModelDir } from '../default-model.js';
import type { CliIO } from '../io.js';

/** The options of `ignis generate`, as commander parses them. */
export interface GenerateOptions {
  model?: string;
  prompt?: string;
  promptIds?: number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed?: number;
  stop?: string[];
  ignoreEos: boolean;
  device: Device;
  dtype: Precision;
  quantization: QuantizationMethod;
  kvCacheDtype: KvCacheDtype;
  maxModelLen?: number;
  checkWeights: boolean;
  json: boolean;
}

/**
 * Loads the model, generates one continuation and prints it: the text on stdout, or with --json
 * one JSON object as the last line of stdout. Timing goes to stderr.
 */
export async function runGenerate(options: GenerateOptions, io: CliIO): Promise<void> {
  if ((options.prompt === undefined) === (options.promptIds === undefined)) {
    throw new Error('give exactly one of --prompt TEXT and --prompt-ids 1,2,3');
  }
  const modelDir = options.model ?? defaultModelDir();
  const loadStarted = performance.now();
  const llm = await LLM.load(modelDir, {
    device: options.device,
    dtype: options.dtype,
    quantization: options.quantization,
    kvCacheDtype: options.kvCacheDtype,
    maxModelLen: options.maxModelLen,
    checkWeights: options.checkWeights,
  });
  try {
    const loadMs = performance.now() - loadStarted;
    const result = await llm.generate(options.prompt ?? options.promptIds!, {
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      topP: options.topP,
      topK: options.topK,
      seed: options.seed,
      stop: options.stop ?? [],
      ignoreEos: options.ignoreEos,
    });
    const decodeMs = result.totalMs - result.timeToFirstTokenMs;
    const decodeRate = result.tokenIds.length > 1 ? ((result.tokenIds.length - 1) * 1000) / decodeMs : 0;
    if (options.json) {
      io.stdout(
        `${JSON.stringify({
          model: modelDir,
          device: llm.device,
          dtype: llm.dtype,
          prompt_token_ids: result.promptTokenIds,
          token_ids: result.tokenIds,
          text: result.text,
          finish_reason: result.finishReason,
          usage: { prompt_tokens: result.promptTokenIds.length, completion_tokens: result.tokenIds.length },
          timings: { load_ms: round(loadMs), time_to_first_token_ms: round(result.timeToFirstTokenMs), total_ms: round(result.totalMs) },
        })}\n`,
      );
    } else {
      io.stdout(`${result.text}\n`);
    }
    io.stderr(
      `[ignis] ${result.tokenIds.length} tokens (${result.finishReason}) on ${llm.device} (${llm.dtype}); ` +
        `first token ${round(result.timeToFirstTokenMs)} ms, then ${decodeRate.toFixed(1)} tokens/s; load ${round(loadMs)} ms\n`,
    );
  } finally {
    llm.dispose();
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
