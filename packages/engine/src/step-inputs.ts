import { STEP_INPUTS } from '@ignis/models';
import type { StepInputs } from '@ignis/tensor';
import type { StepPlan } from './sequence.js';

/** Capacity of the packing buffers (the compiled plan's maxima). */
export interface PackLimits {
  readonly blockSize: number;
  readonly maxNumBatchedTokens: number;
  readonly maxNumSeqs: number;
  readonly maxBlocksPerSeq: number;
}

/**
 * Packs a step plan into the flat arrays every backend takes (see `STEP_INPUTS`). Buffers are
 * allocated once and reused; each step passes views of the used prefix.
 */
export class StepPacker {
  private readonly tokenIds: Int32Array;
  private readonly positions: Int32Array;
  private readonly slotMapping: Int32Array;
  private readonly blockTables: Int32Array;
  private readonly seqLens: Int32Array;
  private readonly queryStart: Int32Array;
  private readonly logitsIndices: Int32Array;
  private readonly temperature: Float32Array;
  private readonly topK: Int32Array;
  private readonly topP: Float32Array;
  private readonly minP: Float32Array;
  private readonly seed: Int32Array;
  private readonly sampleStep: Int32Array;

  constructor(private readonly limits: PackLimits) {
    this.tokenIds = new Int32Array(limits.maxNumBatchedTokens);
    this.positions = new Int32Array(limits.maxNumBatchedTokens);
    this.slotMapping = new Int32Array(limits.maxNumBatchedTokens);
    this.blockTables = new Int32Array(limits.maxNumSeqs * limits.maxBlocksPerSeq);
    this.seqLens = new Int32Array(limits.maxNumSeqs);
    this.queryStart = new Int32Array(limits.maxNumSeqs + 1);
    this.logitsIndices = new Int32Array(limits.maxNumSeqs);
    this.temperature = new Float32Array(limits.maxNumSeqs);
    this.topK = new Int32Array(limits.maxNumSeqs);
    this.topP = new Float32Array(limits.maxNumSeqs);
    this.minP = new Float32Array(limits.maxNumSeqs);
    this.seed = new Int32Array(limits.maxNumSeqs);
    this.sampleStep = new Int32Array(limits.maxNumSeqs);
  }

  /**
   * The step's inputs; logit rows (and their sampling parameters) follow the order of sampling
   * sequences in the plan. With `fullWidth`, block tables span every possible block (padded with
   * the null block 0), so that the dims of a decode step depend only on its batch size: what a
   * captured CUDA graph needs.
   */
  pack(plan: StepPlan, fullWidth = false): StepInputs {
    const { blockSize, maxNumBatchedTokens, maxNumSeqs, maxBlocksPerSeq } = this.limits;
    const numSeqs = plan.scheduled.length;
    if (numSeqs > maxNumSeqs) throw new RangeError(`step has ${numSeqs} sequences; at most ${maxNumSeqs} fit`);
    const longest = plan.scheduled.reduce((m, s) => Math.max(m, s.seq.blocks.length), 1);
    const widest = fullWidth ? maxBlocksPerSeq : longest;
    if (longest > maxBlocksPerSeq) throw new RangeError(`a sequence holds ${longest} blocks; at most ${maxBlocksPerSeq} fit`);
    let t = 0;
    let rows = 0;
    this.blockTables.fill(0, 0, numSeqs * widest);
    plan.scheduled.forEach(({ seq, numNewTokens, sample }, s) => {
      if (t + numNewTokens > maxNumBatchedTokens) throw new RangeError(`step has more than ${maxNumBatchedTokens} tokens`);
      this.queryStart[s] = t;
      for (let j = 0; j < numNewTokens; j++, t++) {
        const position = seq.numComputed + j;
        this.tokenIds[t] = seq.tokenIds[position]!;
        this.positions[t] = position;
        this.slotMapping[t] = seq.blocks[Math.floor(position / blockSize)]! * blockSize + (position % blockSize);
      }
      this.seqLens[s] = seq.numComputed + numNewTokens;
      this.blockTables.set(seq.blocks, s * widest);
      if (sample) {
        const params = seq.params;
        this.logitsIndices[rows] = t - 1;
        this.temperature[rows] = params.temperature;
        this.topK[rows] = params.topK;
        this.topP[rows] = params.topP;
        this.minP[rows] = params.minP;
        this.seed[rows] = seq.seed | 0;
        this.sampleStep[rows] = seq.numOutputTokens;
        rows++;
      }
    });
    this.queryStart[numSeqs] = t;
    return {
      dims: { T: t, S: numSeqs, R: rows, MB: widest },
      inputs: {
        [STEP_INPUTS.tokenIds]: this.tokenIds.subarray(0, t),
        [STEP_INPUTS.positions]: this.positions.subarray(0, t),
        [STEP_INPUTS.slotMapping]: this.slotMapping.subarray(0, t),
        [STEP_INPUTS.blockTables]: this.blockTables.subarray(0, numSeqs * widest),
        [STEP_INPUTS.seqLens]: this.seqLens.subarray(0, numSeqs),
        [STEP_INPUTS.queryStart]: this.queryStart.subarray(0, numSeqs + 1),
        [STEP_INPUTS.logitsIndices]: this.logitsIndices.subarray(0, rows),
        [STEP_INPUTS.temperature]: this.temperature.subarray(0, rows),
        [STEP_INPUTS.topK]: this.topK.subarray(0, rows),
        [STEP_INPUTS.topP]: this.topP.subarray(0, rows),
        [STEP_INPUTS.minP]: this.minP.subarray(0, rows),
        [STEP_INPUTS.seed]: this.seed.subarray(0, rows),
        [STEP_INPUTS.sampleStep]: this.sampleStep.subarray(0, rows),
      },
    };
  }
}
