import type { CaseCost, FloatDType, OpCase } from '@ignis/cuda-kernels';
import type { ModelSpec } from '@ignis/models';

/** Which shapes to time: decode batch sizes, the prefill chunk, and the context decode attention reads. */
export interface KernelShapes {
  readonly decodeBatches: readonly number[];
  readonly prefillTokens: number;
  readonly context: number;
}

/** A benchmark case at one of a model's shapes, with what it stands for. */
export interface ModelCase {
  /** The layer it times: qkv, o, gate_up, down, lm_head, attention. */
  readonly layer: string;
  /** Rows (tokens) of the GEMM, or sequences of the decode attention. */
  readonly tokens: number;
  readonly case: OpCase;
}

const bytesOf = (dtype: FloatDType): number => (dtype === 'f32' ? 4 : 2);

/** Random inputs in [-1, 1): the harness rounds them to the case's dtype. */
function randomArray(random: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * random() - 1;
  return out;
}

/** y = x @ w^T with T rows, as the engine runs it after fusion (the LM head writes f32 logits). */
function linearCase(layer: string, rows: number, n: number, k: number, f32Out: boolean): OpCase {
  return {
    kernel: 'gemm',
    name: `${layer} T=${rows} N=${n} K=${k}`,
    build: (b, dtype) => {
      const x = b.input('x', dtype, ['T', k]);
      b.output('y', b.linear('y', x, b.weight('w', dtype, [n, k]), undefined, f32Out ? 'f32' : undefined));
    },
    maxDims: { T: rows },
    weights: () => ({}), // benchmarks fill weights on the device
    steps: (random) => [{ dims: { T: rows }, inputs: { x: randomArray(random, rows * k) } }],
    tolerance: { f32: 1e-5, bf16: 1e-2 },
    benchOnly: true,
    cost: (dtype): CaseCost => ({ bytes: (rows * k + n * k) * bytesOf(dtype) + rows * n * (f32Out ? 4 : bytesOf(dtype)), flops: 2 * rows * n * k }),
  };
}

/** One decode step of paged attention: `batch` sequences, each with `context` tokens cached (its new one included). */
function decodeAttentionCase(spec: ModelSpec, batch: number, context: number, blockSize = 16): OpCase {
  const { numHeads: heads, numKvHeads: kvHeads, headDim } = spec;
  const perSeq = Math.ceil(context / blockSize);
  return {
    kernel: 'attention',
    name: `decode attention batch=${batch} context=${context} heads=${heads}/${kvHeads} d=${headDim}`,
    build: (b, dtype) => {
      const cache = (name: string) => b.state(name, dtype, ['NB', blockSize, kvHeads, headDim]);
      const operands = {
        q: b.input('q', dtype, ['T', heads * headDim]),
        k: b.input('k', dtype, ['T', kvHeads * headDim]),
        v: b.input('v', dtype, ['T', kvHeads * headDim]),
        kCache: cache('k_cache'),
        vCache: cache('v_cache'),
        slotMapping: b.input('slots', 'i32', ['T']),
        blockTables: b.input('tables', 'i32', ['S', 'MB']),
        seqLens: b.input('lens', 'i32', ['S']),
        queryStart: b.input('starts', 'i32', ['S+1']),
      };
      const attrs = { numHeads: heads, numKvHeads: kvHeads, headDim, scale: 1 / Math.sqrt(headDim), slidingWindow: null };
      b.output('out', b.pagedAttention('out', operands, attrs));
    },
    maxDims: { T: batch, S: batch, MB: perSeq },
    loadDims: { NB: 1 + batch * perSeq },
    weights: () => ({}),
    steps: (random) => {
      // Sequence s owns blocks 1 + s * perSeq onwards (block 0 is the null block); its new token sits at position context - 1.
      const tables = Int32Array.from({ length: batch * perSeq }, (_, i) => 1 + i);
      const slots = Int32Array.from({ length: batch }, (_, s) => (1 + s * perSeq + Math.floor((context - 1) / blockSize)) * blockSize + ((context - 1) % blockSize));
      return [
        {
          dims: { T: batch, S: batch, MB: perSeq },
          inputs: {
            q: randomArray(random, batch * heads * headDim),
            k: randomArray(random, batch * kvHeads * headDim),
            v: randomArray(random, batch * kvHeads * headDim),
            slots,
            tables,
            lens: new Int32Array(batch).fill(context),
            starts: Int32Array.from({ length: batch + 1 }, (_, i) => i),
          },
        },
      ];
    },
    tolerance: { f32: 1e-5, bf16: 2e-2 },
    benchOnly: true,
    cost: (dtype) => ({
      bytes: (2 * batch * context * kvHeads * headDim + 2 * batch * heads * headDim) * bytesOf(dtype),
      flops: 4 * batch * heads * context * headDim,
    }),
  };
}

/** The model's linear layers (after q/k/v and gate/up fusion) at decode and prefill sizes, and decode attention. */
export function modelCases(spec: ModelSpec, shapes: KernelShapes): ModelCase[] {
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize } = spec;
  const layers: [string, number, number, boolean][] = [
    ['qkv', (numHeads + 2 * numKvHeads) * headDim, h, false],
    ['o', h, numHeads * headDim, false],
    ['gate_up', 2 * inter, h, false],
    ['down', h, inter, false],
    ['lm_head', vocabSize, h, true],
  ];
  // The LM head runs on the last token of each sequence only, so never at prefill size.
  const gemms = (t: number, prefill: boolean) => layers.filter(([layer]) => !prefill || layer !== 'lm_head').map(([layer, n, k, f32Out]) => ({ layer, tokens: t, case: linearCase(layer, t, n, k, f32Out) }));
  return [
    ...shapes.decodeBatches.flatMap((t) => gemms(t, false)),
    ...gemms(shapes.prefillTokens, true),
    ...shapes.decodeBatches.map((batch) => ({ layer: 'attention', tokens: batch, case: decodeAttentionCase(spec, batch, shapes.context) })),
  ];
}
