import { readFile } from 'node:fs/promises';
import { type Device, type KvCacheDtype, type Precision, type QuantizationMethod, loadTokenizer, selectBackend } from '@ignis/engine';
import { openCheckpoint } from '@ignis/models';
import { loadLogitsModel, promptLogits } from '@ignis/models/testing';
import { describeWeights, planQuantization, readKvCacheScales } from '@ignis/quantization';
import { logNormalizer } from '@ignis/tensor';

/** Options of `ignis-bench perplexity`. */
export interface PerplexityOptions {
  readonly model: string;
  readonly device: Device;
  readonly dtype: Precision;
  readonly quantization: QuantizationMethod;
  readonly kvCacheDtype: KvCacheDtype;
  /** JSON lines, one document a line: `{"text": ...}`. */
  readonly documents: string;
  /** Tokens of context each scored window sees (the model's training context, for a fair number). */
  readonly context: number;
}

/** What `perplexity` reports. */
export interface PerplexityReport {
  readonly model: string;
  readonly device: string;
  readonly dtype: string;
  readonly quantization: string;
  readonly kvCacheDtype: string;
  readonly weights: string;
  readonly documents: number;
  readonly scoredTokens: number;
  /** Mean negative log-likelihood per scored token, in nats, and its exponential. */
  readonly meanNll: number;
  readonly perplexity: number;
  /** Bits per UTF-8 byte of the documents' text. */
  readonly bitsPerByte: number;
}

/**
 * Perplexity over documents, as the demo models' training measures it (tooling/train-demo): each
 * document is BOS, its tokens and EOS, one after another; the stream is cut into windows of
 * `context` + 1 tokens that do not overlap; every next token is scored but BOS (which always
 * follows EOS). With `quantization` and `kvCacheDtype`, the same numbers for FP8 weights and an
 * FP8 KV cache: their cost in accuracy.
 */
export async function runPerplexity(options: PerplexityOptions, log: (line: string) => void): Promise<PerplexityReport> {
  const texts = (await readFile(options.documents, 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  const tokenizer = await loadTokenizer(options.model);
  if (!tokenizer) throw new Error(`${options.model} has no tokenizer.json: perplexity needs one`);
  const eos = tokenizer.eosTokenIds[0];
  if (eos === undefined) throw new Error(`${options.model}'s tokenizer names no EOS token`);
  const stream: number[] = [];
  for (const text of texts) stream.push(...(await tokenizer.encode(text)), eos);
  const placement = selectBackend(options.device, options.dtype);
  const checkpoint = await openCheckpoint(options.model);
  const quant = planQuantization({ checkpointConfig: checkpoint.spec.quantizationConfig, where: 'config.json', method: options.quantization, source: checkpoint.weights, backend: placement.backend });
  let weights = '';
  const kvCacheScales = options.kvCacheDtype === 'fp8' ? await readKvCacheScales(checkpoint.weights, checkpoint.spec.numLayers) : undefined;
  const model = await loadLogitsModel(checkpoint.spec, placement.backend, (plan) => ((weights = describeWeights(plan)), quant.weightsFor(plan)), {
    dtype: placement.dtype === 'f32' ? 'f32' : 'bf16',
    maxTokens: options.context,
    passes: [quant.pass],
    ...(kvCacheScales ? { kvCacheDtype: 'fp8e4m3' as const, kvCacheScales } : {}),
  });
  let nll = 0;
  let scored = 0;
  try {
    const vocab = checkpoint.spec.vocabSize;
    for (let start = 0; start < stream.length - 1; start += options.context) {
      const window = stream.slice(start, start + options.context + 1);
      const logits = await promptLogits(model, window.slice(0, -1));
      for (let t = 0; t + 1 < window.length; t++) {
        const target = window[t + 1]!;
        if (target === tokenizer.bosTokenId) continue;
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        nll += logNormalizer(row) - row[target]!;
        scored++;
      }
      log(`scored ${scored} tokens`);
    }
  } finally {
    model.executable.dispose();
    await checkpoint.close();
  }
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
  return {
    model: options.model,
    device: placement.device,
    dtype: placement.dtype,
    quantization: options.quantization,
    kvCacheDtype: kvCacheScales ? 'fp8e4m3' : placement.dtype,
    weights,
    documents: texts.length,
    scoredTokens: scored,
    meanNll: nll / scored,
    perplexity: Math.exp(nll / scored),
    bitsPerByte: nll / Math.LN2 / bytes,
  };
}
