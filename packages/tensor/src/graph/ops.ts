import type { DType } from '../dtype.js';
import { formatShape } from './dims.js';
import type { AttrValue, Dim, OpKind, Shape, Value } from './types.js';

/** A graph that breaks an op's contract (wrong shapes, dtypes or attributes). */
export class GraphError extends Error {
  override name = 'GraphError';
}

/** The dtype and shape of one op output. */
export interface ValueType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** An op's attributes by name. */
export type OpAttrs = Readonly<Record<string, AttrValue>>;

/** An op's contract: its operands (a trailing `?` marks an optional one) and its type rule. */
export interface OpDef {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /**
   * The input whose memory the (single) output may take over when nothing reads that input
   * afterwards: the op then works in place (a backend must also accept separate buffers).
   */
  readonly inPlace?: number;
  /** Checks the operands and returns the output types; throws {@link GraphError} on a mismatch. */
  infer(inputs: readonly Value[], attrs: OpAttrs): ValueType[];
}

function fail(op: OpKind, message: string): never {
  throw new GraphError(`${op}: ${message}`);
}

function expectRank(op: OpKind, v: Value, rank: number): void {
  if (v.shape.length !== rank) fail(op, `${v.name} must have rank ${rank}, has shape ${formatShape(v.shape)}`);
}

function expectDim(op: OpKind, what: string, actual: Dim | undefined, expected: Dim): void {
  if (actual !== expected) fail(op, `${what} is ${String(actual)}, expected ${expected}`);
}

function expectDtype(op: OpKind, v: Value, allowed: readonly DType[]): void {
  if (!allowed.includes(v.dtype)) fail(op, `${v.name} has dtype ${v.dtype}, expected ${allowed.join(' or ')}`);
}

function intAttr(op: OpKind, attrs: OpAttrs, key: string): number {
  const value = attrs[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(op, `attribute ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function numberAttr(op: OpKind, attrs: OpAttrs, key: string): number {
  const value = attrs[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(op, `attribute ${key} must be a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}

const FLOAT: readonly DType[] = ['f32', 'f16', 'bf16'];
const INT: readonly DType[] = ['i32'];

/** Every op's contract. Backends implement these semantics exactly. */
export const OP_DEFS: Readonly<Record<OpKind, OpDef>> = {
  /** Rows of `table` picked by `ids`: out[i] = table[ids[i]]. Attribute `dtype`: the output dtype. */
  embedding: {
    inputs: ['ids', 'table'],
    outputs: ['out'],
    infer([ids, table], attrs) {
      expectRank('embedding', ids!, 1);
      expectDtype('embedding', ids!, INT);
      expectRank('embedding', table!, 2);
      expectDtype('embedding', table!, FLOAT);
      const dtype = attrs.dtype;
      if (typeof dtype !== 'string' || !FLOAT.includes(dtype as DType)) fail('embedding', 'attribute dtype must be a float dtype');
      return [{ dtype: dtype as DType, shape: [ids!.shape[0]!, table!.shape[1]!] }];
    },
  },
  /** out = x / sqrt(mean(x^2) + eps) * weight, over the last dimension, computed in f32. */
  rmsnorm: {
    inputs: ['x', 'weight'],
    outputs: ['out'],
    infer([x, w], attrs) {
      checkNorm('rmsnorm', x!, w!, attrs);
      return [{ dtype: x!.dtype, shape: x!.shape }];
    },
  },
  /** sum = x + residual; out = rmsnorm(sum). The fusion of `add` and `rmsnorm`. */
  add_rmsnorm: {
    inputs: ['x', 'residual', 'weight'],
    outputs: ['sum', 'out'],
    infer([x, r, w], attrs) {
      checkSameType('add_rmsnorm', x!, r!);
      checkNorm('add_rmsnorm', x!, w!, attrs);
      return [
        { dtype: x!.dtype, shape: x!.shape },
        { dtype: x!.dtype, shape: x!.shape },
      ];
    },
  },
  /** Elementwise a + b. */
  add: {
    inputs: ['a', 'b'],
    outputs: ['out'],
    infer([a, b]) {
      checkSameType('add', a!, b!);
      return [{ dtype: a!.dtype, shape: a!.shape }];
    },
  },
  /**
   * out = x @ weight^T + bias, with weight stored [out_features, in_features] as in Hugging Face
   * checkpoints. Optional attribute `dtype`: the output dtype (default: x's), e.g. f32 logits
   * from bf16 activations.
   */
  linear: {
    inputs: ['x', 'weight', 'bias?'],
    outputs: ['out'],
    infer([x, w, bias], attrs) {
      expectRank('linear', x!, 2);
      expectRank('linear', w!, 2);
      expectDtype('linear', x!, FLOAT);
      expectDtype('linear', w!, FLOAT);
      expectDim('linear', `${w!.name} in_features`, w!.shape[1], x!.shape[1]!);
      if (bias) {
        expectRank('linear', bias, 1);
        expectDim('linear', `${bias.name} length`, bias.shape[0], w!.shape[0]!);
      }
      const dtype = attrs.dtype ?? x!.dtype;
      if (typeof dtype !== 'string' || !FLOAT.includes(dtype as DType)) fail('linear', 'attribute dtype must be a float dtype');
      return [{ dtype: dtype as DType, shape: [x!.shape[0]!, w!.shape[0]!] }];
    },
  },
  /**
   * Rotary position embedding, rotate-half (GPT-NeoX) layout, per head of `headDim` channels:
   * for j < rotaryDim/2, angle = positions[t] * invFreq[j] (in f32), and channels j and
   * j + rotaryDim/2 rotate by it. Channels past rotaryDim pass through.
   */
  rope: {
    inputs: ['x', 'positions', 'inv_freq'],
    outputs: ['out'],
    infer([x, positions, invFreq], attrs) {
      expectRank('rope', x!, 2);
      expectDtype('rope', x!, FLOAT);
      const numHeads = intAttr('rope', attrs, 'numHeads');
      const headDim = intAttr('rope', attrs, 'headDim');
      expectDim('rope', 'x width', x!.shape[1], numHeads * headDim);
      checkRotary('rope', x!, positions!, invFreq!, headDim);
      return [{ dtype: x!.dtype, shape: x!.shape }];
    },
  },
  /**
   * Causal attention over a paged KV cache. First writes this step's k and v rows into the cache
   * slots `slot_mapping[t]` (slot = block * blockSize + offset). Then each sequence s, whose new
   * tokens are rows query_start[s] .. query_start[s+1]-1 and whose context is seq_lens[s] tokens
   * (cached + new), attends query i (the j-th new token) to cache positions
   * [max(0, p + 1 - slidingWindow), p] with p = seq_lens[s] - newTokens + j, reading positions
   * through block_tables[s]. Query head h reads KV head floor(h / (numHeads / numKvHeads)).
   * Scores are scaled by `scale`; softmax in f32.
   *
   * The caches (both of one dtype) hold a float dtype or `fp8e4m3`, whatever the activation
   * dtype (vLLM's `--kv-cache-dtype fp8`). Optional attributes `kScale` and `vScale` (finite,
   * positive; absent = 1; used as f32) are the caches' per-layer scales: an fp8 cache stores the
   * code `e4m3(k / kScale)` (the quotient in f32, rounded to nearest even, saturating at ±448:
   * `f32ToFp8e4m3`) and attention reads `decode(code) * kScale`; the same for v with `vScale`.
   * A float cache stores the rows as they are, so both scales must then be 1.
   */
  paged_attention: {
    inputs: ['q', 'k', 'v', 'k_cache', 'v_cache', 'slot_mapping', 'block_tables', 'seq_lens', 'query_start'],
    outputs: ['out'],
    infer([q, k, v, ...rest], attrs) {
      const op = 'paged_attention';
      const { numHeads, numKvHeads, headDim } = checkAttentionAttrs(op, attrs);
      for (const x of [q!, k!, v!]) {
        expectRank(op, x, 2);
        expectDtype(op, x, FLOAT);
        expectDim(op, `${x.name} rows`, x.shape[0], q!.shape[0]!);
      }
      expectDim(op, 'q width', q!.shape[1], numHeads * headDim);
      expectDim(op, 'k width', k!.shape[1], numKvHeads * headDim);
      expectDim(op, 'v width', v!.shape[1], numKvHeads * headDim);
      checkCacheAndMetadata(op, q!, rest, numKvHeads, headDim, attrs);
      return [{ dtype: q!.dtype, shape: q!.shape }];
    },
  },
  /**
   * q/k/v projections fused: `qkv` rows are [q | k | v] (numHeads, numKvHeads and numKvHeads
   * heads of headDim). Rotates q and k as `rope` does (positions, inv_freq), then does exactly
   * what `paged_attention` does with the rotated q and k and with v.
   */
  paged_attention_qkv: {
    inputs: ['qkv', 'positions', 'inv_freq', 'k_cache', 'v_cache', 'slot_mapping', 'block_tables', 'seq_lens', 'query_start'],
    outputs: ['out'],
    infer([qkv, positions, invFreq, ...rest], attrs) {
      const op = 'paged_attention_qkv';
      const { numHeads, numKvHeads, headDim } = checkAttentionAttrs(op, attrs);
      expectRank(op, qkv!, 2);
      expectDtype(op, qkv!, FLOAT);
      expectDim(op, 'qkv width', qkv!.shape[1], (numHeads + 2 * numKvHeads) * headDim);
      checkRotary(op, qkv!, positions!, invFreq!, headDim);
      checkCacheAndMetadata(op, qkv!, rest, numKvHeads, headDim, attrs);
      return [{ dtype: qkv!.dtype, shape: [qkv!.shape[0]!, numHeads * headDim] }];
    },
  },
  /** gate/up projections fused: `gate_up` rows are [gate | up]; out = silu_mul(gate, up). */
  swiglu: {
    inputs: ['gate_up'],
    outputs: ['out'],
    infer([gateUp]) {
      expectRank('swiglu', gateUp!, 2);
      expectDtype('swiglu', gateUp!, FLOAT);
      const width = gateUp!.shape[1];
      if (typeof width !== 'number' || width % 2 !== 0) fail('swiglu', `gate_up width must be even, got ${String(width)}`);
      return [{ dtype: gateUp!.dtype, shape: [gateUp!.shape[0]!, width / 2] }];
    },
  },
  /**
   * Sampling penalties on f32 logits [R, V], as vLLM applies them. Row r's tokens are
   * tokens[start[r] .. start[r+1]-1]: its prompt, then, from index output_start[r] of that range,
   * its generated tokens. First, for every distinct token of the prompt and the output, a
   * repetition penalty: logit / repetition when the logit is positive, logit * repetition
   * otherwise. Then, over the generated tokens: logit -= frequency once per occurrence and
   * logit -= presence once per distinct token. Each operation rounds to f32, and a finite logit
   * stays finite: a result beyond +-FLT_MAX saturates there (masked -inf logits stay -inf).
   * Neutral parameters (1, 0, 0) leave a row unchanged.
   */
  penalties: {
    inputs: ['logits', 'tokens', 'start', 'output_start', 'repetition', 'presence', 'frequency'],
    outputs: ['out'],
    inPlace: 0,
    infer([logits, tokens, start, outputStart, repetition, presence, frequency]) {
      expectRank('penalties', logits!, 2);
      expectDtype('penalties', logits!, ['f32']);
      const rows = logits!.shape[0]!;
      expectRank('penalties', tokens!, 1);
      expectDtype('penalties', tokens!, INT);
      expectRank('penalties', start!, 1);
      expectDtype('penalties', start!, INT);
      expectDim('penalties', 'start length', start!.shape[0], typeof rows === 'number' ? rows + 1 : `${rows}+1`);
      for (const [v, dtype] of [[outputStart, 'i32'], [repetition, 'f32'], [presence, 'f32'], [frequency, 'f32']] as const) {
        expectRank('penalties', v!, 1);
        expectDtype('penalties', v!, [dtype]);
        expectDim('penalties', `${v!.name} length`, v!.shape[0], rows);
      }
      return [{ dtype: 'f32', shape: logits!.shape }];
    },
  },
  /**
   * The `count` most likely tokens of each row of f32 logits [R, V] and their log-probabilities
   * (log-softmax of the logits as given: before temperature, top-k or top-p, as vLLM reports
   * them). Most likely first; equal logits in index order. `count` is a dimension (a number, or a
   * symbol such as `L` whose size each step sets; 0 computes nothing).
   */
  top_logprobs: {
    inputs: ['logits'],
    outputs: ['token', 'logprob'],
    infer([logits], attrs) {
      expectRank('top_logprobs', logits!, 2);
      expectDtype('top_logprobs', logits!, ['f32']);
      const count = attrs.count;
      if (typeof count !== 'string' && (typeof count !== 'number' || !Number.isInteger(count) || count < 0)) {
        fail('top_logprobs', `attribute count must be a dimension (an integer >= 0 or a symbol), got ${JSON.stringify(count)}`);
      }
      const shape = [logits!.shape[0]!, count];
      return [
        { dtype: 'i32', shape },
        { dtype: 'f32', shape },
      ];
    },
  },
  /** out = silu(gate) * up, with silu(x) = x / (1 + exp(-x)). */
  silu_mul: {
    inputs: ['gate', 'up'],
    outputs: ['out'],
    infer([gate, up]) {
      checkSameType('silu_mul', gate!, up!);
      return [{ dtype: gate!.dtype, shape: gate!.shape }];
    },
  },
  /** out[r] = x[indices[r]]: picks the rows whose logits are wanted. */
  gather_rows: {
    inputs: ['x', 'indices'],
    outputs: ['out'],
    infer([x, indices]) {
      expectRank('gather_rows', x!, 2);
      expectRank('gather_rows', indices!, 1);
      expectDtype('gather_rows', indices!, INT);
      return [{ dtype: x!.dtype, shape: [indices!.shape[0]!, x!.shape[1]!] }];
    },
  },
  /**
   * Samples one token per row of f32 logits [R, V] with per-row parameters (all [R]):
   * a temperature below 2^-126 (the smallest normal f32: 0, subnormals, negatives, NaN) is greedy
   * (the first index of the maximum). Otherwise, with T = min(temperature, FLT_MAX),
   * z = fl32(fl32(logits - max) / T), so z <= 0, z = 0 at the maximum and an overflow is -inf
   * (never NaN), and p = exp(z); the kept tokens are those with z >= max(tau_k, tau_p, tau_min):
   * tau_k the top_k-th largest z (top_k 0 keeps all), tau_p the z at which the running mass of p
   * in descending z order first reaches top_p of the mass above tau_k, tau_min = log(min_p).
   * A uniform u = `sampleUniform(seed, step)` picks the token whose running kept mass, in index
   * order, first exceeds u times the kept mass. logprob = log_softmax(logits)[token] (no
   * temperature). The draw is counter-based (Philox4x32-10, key (seed, 0), counter
   * (step, 0, 0, 0)): the same (seed, step) draws the same u on every backend, whatever the batch.
   * A sampled row whose maximum is not finite has no mass to draw from and gives index V - 1.
   */
  sample: {
    inputs: ['logits', 'temperature', 'top_k', 'top_p', 'min_p', 'seed', 'step'],
    outputs: ['token', 'logprob'],
    infer([logits, temperature, topK, topP, minP, seed, step]) {
      expectRank('sample', logits!, 2);
      expectDtype('sample', logits!, ['f32']);
      const rows = logits!.shape[0]!;
      for (const [v, dtype] of [[temperature, 'f32'], [topK, 'i32'], [topP, 'f32'], [minP, 'f32'], [seed, 'i32'], [step, 'i32']] as const) {
        expectRank('sample', v!, 1);
        expectDtype('sample', v!, [dtype]);
        expectDim('sample', `${v!.name} length`, v!.shape[0], rows);
      }
      return [
        { dtype: 'i32', shape: [rows] },
        { dtype: 'f32', shape: [rows] },
      ];
    },
  },
};

/** Attributes both attention ops take. */
function checkAttentionAttrs(op: OpKind, attrs: OpAttrs): { numHeads: number; numKvHeads: number; headDim: number } {
  const numHeads = intAttr(op, attrs, 'numHeads');
  const numKvHeads = intAttr(op, attrs, 'numKvHeads');
  const headDim = intAttr(op, attrs, 'headDim');
  numberAttr(op, attrs, 'scale');
  if (attrs.slidingWindow !== null && attrs.slidingWindow !== undefined) intAttr(op, attrs, 'slidingWindow');
  if (numHeads % numKvHeads !== 0) fail(op, `numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  for (const key of ['kScale', 'vScale']) {
    if (attrs[key] === undefined) continue;
    const scale = numberAttr(op, attrs, key);
    if (scale <= 0) fail(op, `attribute ${key} must be positive, got ${scale}`);
  }
  return { numHeads, numKvHeads, headDim };
}

/** Dtypes a KV cache may hold: a float dtype, or FP8 e4m3 scaled by `kScale`/`vScale`. */
const KV_CACHE: readonly DType[] = [...FLOAT, 'fp8e4m3'];

/** An attention op's KV-cache scales, attributes `kScale` and `vScale` (absent = 1). */
export function kvCacheScales(attrs: OpAttrs): { k: number; v: number } {
  return { k: (attrs.kScale as number | undefined) ?? 1, v: (attrs.vScale as number | undefined) ?? 1 };
}

/** The KV caches and the attention metadata: slot mapping (one per row of `rows`), block tables, lengths, query starts. */
function checkCacheAndMetadata(
  op: OpKind, rows: Value, operands: readonly Value[], numKvHeads: number, headDim: number, attrs: OpAttrs,
): void { // prettier-ignore
  const [kCache, vCache, slots, tables, seqLens, queryStart] = operands as [Value, Value, Value, Value, Value, Value];
  for (const cache of [kCache, vCache]) {
    expectRank(op, cache, 4);
    expectDim(op, `${cache.name} heads`, cache.shape[2], numKvHeads);
    expectDim(op, `${cache.name} head size`, cache.shape[3], headDim);
    expectDtype(op, cache, KV_CACHE);
  }
  if (formatShape(kCache.shape) !== formatShape(vCache.shape)) fail(op, 'k_cache and v_cache shapes differ');
  if (kCache.dtype !== vCache.dtype) fail(op, `k_cache is ${kCache.dtype} but v_cache is ${vCache.dtype}`);
  const scales = kvCacheScales(attrs);
  if (kCache.dtype !== 'fp8e4m3' && (scales.k !== 1 || scales.v !== 1)) {
    fail(op, `kScale ${scales.k} and vScale ${scales.v}: a ${kCache.dtype} cache is not scaled (both must be 1; only an fp8e4m3 cache takes scales)`);
  }
  for (const meta of [slots, tables, seqLens, queryStart]) expectDtype(op, meta, INT);
  expectRank(op, slots, 1);
  expectDim(op, 'slot_mapping length', slots.shape[0], rows.shape[0]!);
  expectRank(op, tables, 2);
  expectRank(op, seqLens, 1);
  expectDim(op, 'block_tables rows', tables.shape[0], seqLens.shape[0]!);
  expectRank(op, queryStart, 1);
  const s = seqLens.shape[0]!;
  expectDim(op, 'query_start length', queryStart.shape[0], typeof s === 'number' ? s + 1 : `${s}+1`);
}

/** Positions (one per row of `x`) and inverse frequencies (at most headDim / 2) of a rotary op. */
function checkRotary(op: OpKind, x: Value, positions: Value, invFreq: Value, headDim: number): void {
  expectRank(op, positions, 1);
  expectDtype(op, positions, INT);
  expectDim(op, 'positions length', positions.shape[0], x.shape[0]!);
  expectRank(op, invFreq, 1);
  expectDtype(op, invFreq, ['f32']);
  const half = invFreq.shape[0];
  if (typeof half !== 'number' || 2 * half > headDim) fail(op, `inv_freq has ${String(half)} entries; at most headDim/2 = ${headDim / 2} fit`);
}

function checkNorm(op: OpKind, x: Value, w: Value, attrs: OpAttrs): void {
  expectDtype(op, x, FLOAT);
  expectRank(op, w, 1);
  expectDim(op, `${w.name} length`, w.shape[0], x.shape[x.shape.length - 1]!);
  const eps = numberAttr(op, attrs, 'eps');
  if (eps < 0) fail(op, `eps must be >= 0, got ${eps}`);
}

function checkSameType(op: OpKind, a: Value, b: Value): void {
  if (a.dtype !== b.dtype || formatShape(a.shape) !== formatShape(b.shape)) {
    fail(op, `${a.name} ${a.dtype}${formatShape(a.shape)} and ${b.name} ${b.dtype}${formatShape(b.shape)} differ`);
  }
}

/** Number of required operands of `op`. */
export function requiredInputs(op: OpKind): number {
  return OP_DEFS[op].inputs.filter((name) => !name.endsWith('?')).length;
}
