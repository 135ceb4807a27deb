import { STEP_INPUTS } from '@ignis/models';
import type { StepInputs } from '@ignis/tensor';
import type { Request } from './request.js';
import { hasPenalties } from './sampling/params.js';

/** Capacity of the packing buffers (the compiled plan's maxima). */
export interface PackLimits {
  readonly blockSize: number;
  readonly maxNumBatchedTokens: number;
  readonly maxNumSeqs: number;
  readonly maxBlocksPerSeq: number;
  /** Most penalty tokens (prompt + output of the rows with penalties) one step can carry. */
  readonly maxPenaltyTokens: number;
}

/** One request's share of a step (the scheduler's ScheduledRequest). */
export interface PackedRow {
  readonly request: Request;
  readonly numNewTokens: number;
  readonly sample: boolean;
}

/** How to pack: for a CUDA graph, padded to a decode bucket, with bucketed widths. */
export interface PackOptions {
  /** Pad the step to exactly this many sequences (dummy decode rows in the null block). */
  readonly padTo?: number;
  /**
   * Block-table width and penalty-token count rounded up to powers of two (capped at their
   * maxima), so that the step's dims fall in few buckets, each captured once as a CUDA graph.
   * Rounding up rather than taking the maxima keeps the per-step packing and copies in
   * proportion to the step (a 128k-token context would otherwise copy 8192 block ids per row).
   */
  readonly fixedShape?: boolean;
}

/**
 * Packs a step into the flat arrays every backend takes (see `STEP_INPUTS`): token ids,
 * positions, slot mapping, block tables, lengths, query starts, logit rows, and per logit row
 * its sampling and penalty parameters. Buffers are allocated once and reused.
 */
export class StepPacker {
  private readonly i32 = new Map<string, Int32Array>();
  private readonly f32 = new Map<string, Float32Array>();

  constructor(
    private readonly limits: PackLimits,
    /** The KV block ids a request holds, in order. */
    private readonly blocksOf: (request: Request) => readonly number[],
  ) {
    const { maxNumBatchedTokens: T, maxNumSeqs: S, maxBlocksPerSeq: MB, maxPenaltyTokens: P } = limits;
    for (const [name, n] of [
      [STEP_INPUTS.tokenIds, T],
      [STEP_INPUTS.positions, T],
      [STEP_INPUTS.slotMapping, T],
      [STEP_INPUTS.blockTables, S * MB],
      [STEP_INPUTS.seqLens, S],
      [STEP_INPUTS.queryStart, S + 1],
      [STEP_INPUTS.logitsIndices, S],
      [STEP_INPUTS.topK, S],
      [STEP_INPUTS.seed, S],
      [STEP_INPUTS.sampleStep, S],
      [STEP_INPUTS.penaltyTokens, P],
      [STEP_INPUTS.penaltyStart, S + 1],
      [STEP_INPUTS.outputStart, S],
    ] as const) {
      this.i32.set(name, new Int32Array(n));
    }
    for (const name of [STEP_INPUTS.temperature, STEP_INPUTS.topP, STEP_INPUTS.minP, STEP_INPUTS.repetitionPenalty, STEP_INPUTS.presencePenalty, STEP_INPUTS.frequencyPenalty]) {
      this.f32.set(name, new Float32Array(S));
    }
  }

  /** The step's inputs; logit rows follow the order of sampling rows in `rows`, then padding. */
  pack(rows: readonly PackedRow[], options: PackOptions = {}): StepInputs {
    const { blockSize, maxNumBatchedTokens, maxNumSeqs, maxBlocksPerSeq, maxPenaltyTokens } = this.limits;
    const numSeqs = options.padTo ?? rows.length;
    if (numSeqs > maxNumSeqs || rows.length > numSeqs) throw new RangeError(`step has ${rows.length} sequences; at most ${maxNumSeqs} fit`);
    const blocks = rows.map((row) => this.blocksOf(row.request));
    const longest = blocks.reduce((m, b) => Math.max(m, b.length), 1);
    if (longest > maxBlocksPerSeq) throw new RangeError(`a sequence holds ${longest} blocks; at most ${maxBlocksPerSeq} fit`);
    const width = options.fixedShape ? bucketOf(longest, maxBlocksPerSeq) : longest;
    const [tokenIds, positions, slots, tables, seqLens, queryStart, logitRows] = this.ints(
      STEP_INPUTS.tokenIds, STEP_INPUTS.positions, STEP_INPUTS.slotMapping, STEP_INPUTS.blockTables, STEP_INPUTS.seqLens, STEP_INPUTS.queryStart, STEP_INPUTS.logitsIndices,
    ); // prettier-ignore
    tables.fill(0, 0, numSeqs * width);
    let t = 0;
    let r = 0;
    const sampled: Request[] = [];
    rows.forEach(({ request, numNewTokens, sample }, s) => {
      if (t + numNewTokens > maxNumBatchedTokens) throw new RangeError(`step has more than ${maxNumBatchedTokens} tokens`);
      const held = blocks[s]!;
      queryStart[s] = t;
      for (let j = 0; j < numNewTokens; j++, t++) {
        const position = request.numComputedTokens + j;
        tokenIds[t] = request.tokenIds[position]!;
        positions[t] = position;
        slots[t] = held[Math.floor(position / blockSize)]! * blockSize + (position % blockSize);
      }
      seqLens[s] = request.numComputedTokens + numNewTokens;
      tables.set(held, s * width);
      if (sample) {
        logitRows[r++] = t - 1;
        sampled.push(request);
      }
    });
    // Padding rows: one token each at position 0, written to the null block's first slot, with a
    // context of that one token; their greedy samples are ignored.
    for (let s = rows.length; s < numSeqs; s++, t++) {
      queryStart[s] = t;
      tokenIds[t] = 0;
      positions[t] = 0;
      slots[t] = 0;
      seqLens[s] = 1;
      logitRows[r++] = t;
    }
    queryStart[numSeqs] = t;
    const penaltyTokens = this.packSampling(sampled, r);
    const P = options.fixedShape ? bucketOf(penaltyTokens, maxPenaltyTokens) : penaltyTokens;
    if (penaltyTokens > maxPenaltyTokens) {
      throw new RangeError(`this step's penalties look at ${penaltyTokens} tokens; at most ${maxPenaltyTokens} fit (raise maxPenaltyTokens)`);
    }
    const inputs: Record<string, Int32Array | Float32Array> = {};
    const sizes: Record<string, number> = {
      [STEP_INPUTS.tokenIds]: t,
      [STEP_INPUTS.positions]: t,
      [STEP_INPUTS.slotMapping]: t,
      [STEP_INPUTS.blockTables]: numSeqs * width,
      [STEP_INPUTS.seqLens]: numSeqs,
      [STEP_INPUTS.queryStart]: numSeqs + 1,
      [STEP_INPUTS.logitsIndices]: r,
      [STEP_INPUTS.penaltyTokens]: P,
      [STEP_INPUTS.penaltyStart]: r + 1,
    };
    for (const [name, array] of this.i32) inputs[name] = array.subarray(0, sizes[name] ?? r);
    for (const [name, array] of this.f32) inputs[name] = array.subarray(0, r);
    return { dims: { T: t, S: numSeqs, R: r, MB: width, P }, inputs };
  }

  /** Per logit row: sampling parameters and penalty token ranges (padding rows greedy, neutral). Returns the penalty token count. */
  private packSampling(sampled: readonly Request[], rows: number): number {
    const [topK, seed, step, penaltyTokens, penaltyStart, outputStart] = this.ints(
      STEP_INPUTS.topK, STEP_INPUTS.seed, STEP_INPUTS.sampleStep, STEP_INPUTS.penaltyTokens, STEP_INPUTS.penaltyStart, STEP_INPUTS.outputStart,
    ); // prettier-ignore
    const [temperature, topP, minP, repetition, presence, frequency] = [
      STEP_INPUTS.temperature, STEP_INPUTS.topP, STEP_INPUTS.minP, STEP_INPUTS.repetitionPenalty, STEP_INPUTS.presencePenalty, STEP_INPUTS.frequencyPenalty,
    ].map((name) => this.f32.get(name)!) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array]; // prettier-ignore
    let p = 0;
    penaltyStart[0] = 0;
    for (let r = 0; r < rows; r++) {
      const request = sampled[r];
      const params = request?.params;
      temperature[r] = params?.temperature ?? 0;
      topK[r] = params?.topK ?? 0;
      topP[r] = params?.topP ?? 1;
      minP[r] = params?.minP ?? 0;
      seed[r] = (request?.seed ?? 0) | 0;
      step[r] = request?.numOutputTokens ?? 0;
      repetition[r] = params?.repetitionPenalty ?? 1;
      presence[r] = params?.presencePenalty ?? 0;
      frequency[r] = params?.frequencyPenalty ?? 0;
      outputStart[r] = 0;
      if (request && params && hasPenalties(params)) {
        // Repetition looks at the prompt too; frequency and presence only at the output.
        const from = params.repetitionPenalty !== 1 ? 0 : request.promptIds.length;
        const count = request.tokenIds.length - from;
        if (p + count <= penaltyTokens.length) {
          for (let i = 0; i < count; i++) penaltyTokens[p + i] = request.tokenIds[from + i]!;
        }
        outputStart[r] = request.promptIds.length - from;
        p += count;
      }
      penaltyStart[r + 1] = Math.min(p, penaltyTokens.length);
    }
    return p;
  }

  private ints<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: Int32Array } {
    return names.map((name) => this.i32.get(name)!) as { [K in keyof Names]: Int32Array };
  }
}

/**
 * The CUDA-graph bucket of a size: the smallest power of two >= n (1 for n <= 1), capped at `max`.
 * Batch sizes, block-table widths and penalty-token counts of graph steps all fall in these.
 */
export function bucketOf(n: number, max: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return Math.min(p, max);
}
