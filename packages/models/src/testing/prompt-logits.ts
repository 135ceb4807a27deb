import { type Backend, DEFAULT_PASSES, type Executable, type Graph, type Pass, type WeightSource, compile } from '@ignis/tensor';
import { buildModelGraph } from '../architectures.js';
import { type GraphOptions, LOGITS_OUTPUT, STEP_INPUTS } from '../llama.js';
import type { ModelSpec } from '../spec.js';

/** A model loaded to compute the logits of every prompt position (no sampling), for parity checks. */
export interface LogitsModel {
  readonly executable: Executable;
  readonly spec: ModelSpec;
  readonly blockSize: number;
  readonly maxTokens: number;
}

/**
 * Compiles `spec` with logits for every row (R = T) and loads it on `backend`. `passes` run before
 * the default ones (a quantization pass); `weights` may depend on the compiled plan.
 */
export async function loadLogitsModel(
  spec: ModelSpec,
  backend: Backend,
  weights: WeightSource | ((plan: Graph) => WeightSource),
  options: { dtype: 'f32' | 'bf16'; maxTokens: number; blockSize?: number; passes?: readonly Pass[] } & Pick<GraphOptions, 'kvCacheDtype' | 'kvCacheScales'>,
): Promise<LogitsModel> {
  const blockSize = options.blockSize ?? 16;
  const blocks = Math.ceil(options.maxTokens / blockSize);
  const { kvCacheDtype, kvCacheScales } = options;
  const graph = buildModelGraph(spec, { activationDtype: options.dtype, weightDtype: options.dtype, blockSize, kvCacheDtype, kvCacheScales });
  const plan = compile(graph, { maxDims: { T: options.maxTokens, S: 1, R: options.maxTokens, MB: blocks }, passes: [...(options.passes ?? []), ...DEFAULT_PASSES] });
  const executable = await backend.load(plan, typeof weights === 'function' ? weights(plan) : weights, { loadDims: { NB: blocks + 1 } });
  return { executable, spec, blockSize, maxTokens: options.maxTokens };
}

/**
 * Runs `ids` through the model in chunks of `chunk` tokens (the KV cache carries the prefix from
 * one step to the next) and returns the logits of every position, [ids.length, vocab].
 */
export async function promptLogits(model: LogitsModel, ids: readonly number[], chunk = model.maxTokens): Promise<Float32Array> {
  const { blockSize, spec } = model;
  if (ids.length > model.maxTokens) throw new RangeError(`prompt of ${ids.length} tokens; the model was loaded for ${model.maxTokens}`);
  const vocab = spec.vocabSize;
  const all = new Float32Array(ids.length * vocab);
  const blocks = Int32Array.from({ length: Math.ceil(model.maxTokens / blockSize) }, (_, i) => i + 1); // block 0 is never used
  for (let start = 0; start < ids.length; start += chunk) {
    const n = Math.min(chunk, ids.length - start);
    const positions = Int32Array.from({ length: n }, (_, j) => start + j);
    const out = await model.executable.run(
      {
        dims: { T: n, S: 1, R: n, MB: blocks.length },
        inputs: {
          [STEP_INPUTS.tokenIds]: Int32Array.from(ids.slice(start, start + n)),
          [STEP_INPUTS.positions]: positions,
          [STEP_INPUTS.slotMapping]: positions.map((p) => blocks[Math.floor(p / blockSize)]! * blockSize + (p % blockSize)),
          [STEP_INPUTS.blockTables]: blocks,
          [STEP_INPUTS.seqLens]: Int32Array.from([start + n]),
          [STEP_INPUTS.queryStart]: Int32Array.from([0, n]),
          [STEP_INPUTS.logitsIndices]: Int32Array.from({ length: n }, (_, j) => j),
        },
      },
      [LOGITS_OUTPUT],
    );
    all.set(out[LOGITS_OUTPUT]!.data, start * vocab);
  }
  return all;
}
