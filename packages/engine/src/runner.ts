import { LOGPROBS_OUTPUT, TOKENS_OUTPUT, TOP_LOGPROBS_DIM, TOP_LOGPROBS_OUTPUT, TOP_TOKENS_OUTPUT } from '@ignis/models';
import type { Executable } from '@ignis/tensor';
import type { Request, TokenLogprob } from './request.js';
import { type PackLimits, type PackedRow, StepPacker, bucketOf } from './step-inputs.js';

/** One sampled token and its log-probability. */
export interface SampledToken {
  readonly tokenId: number;
  readonly logprob: number;
  /** The most likely tokens, when the request asks for top logprobs. */
  readonly top?: readonly TokenLogprob[];
}

/** What the engine asks of a model runner: one call per step, sampled tokens back. */
export interface Runner {
  readonly limits: PackLimits;
  /** Runs one step; returns the token sampled for each row that samples, by request. */
  step(rows: readonly PackedRow[]): Promise<Map<Request, SampledToken>>;
  dispose(): void;
}

/**
 * Runs a compiled plan (built with sampling) on a loaded executable: the backend samples. With
 * `graphs`, decode steps (one token per sequence, every sequence sampling) are padded to the
 * next batch bucket with fixed-shape inputs, so that each bucket's step is captured once as a
 * CUDA graph and replayed.
 */
export class ExecutableRunner implements Runner {
  private readonly packer: StepPacker;

  constructor(
    private readonly executable: Executable,
    readonly limits: PackLimits,
    blocksOf: (request: Request) => readonly number[],
    private readonly graphs = false,
  ) {
    this.packer = new StepPacker(limits, blocksOf);
  }

  async step(rows: readonly PackedRow[]): Promise<Map<Request, SampledToken>> {
    const top = rows.reduce((m, r) => (r.sample ? Math.max(m, r.request.params.topLogprobs) : m), 0);
    // Graphs are captured without top logprobs (L = 0): a step that wants them runs eagerly.
    const decode = this.graphs && top === 0 && rows.length > 0 && rows.every((r) => r.numNewTokens === 1 && r.sample);
    const packed = decode ? this.packer.pack(rows, { padTo: bucketOf(rows.length, this.limits.maxNumSeqs), fixedShape: true }) : this.packer.pack(rows);
    const inputs = { ...packed, dims: { ...packed.dims, [TOP_LOGPROBS_DIM]: top }, graph: decode };
    const outputs = await this.executable.run(inputs, top > 0 ? [TOKENS_OUTPUT, LOGPROBS_OUTPUT, TOP_TOKENS_OUTPUT, TOP_LOGPROBS_OUTPUT] : [TOKENS_OUTPUT, LOGPROBS_OUTPUT]);
    const tokens = outputs[TOKENS_OUTPUT]!.data;
    const logprobs = outputs[LOGPROBS_OUTPUT]!.data;
    const topTokens = outputs[TOP_TOKENS_OUTPUT]?.data;
    const topLogprobs = outputs[TOP_LOGPROBS_OUTPUT]?.data;
    const sampled = new Map<Request, SampledToken>();
    let row = 0;
    for (const { request, sample } of rows) {
      if (!sample) continue;
      const wanted = request.params.topLogprobs;
      const alternatives = wanted > 0 && topTokens && topLogprobs ? topOf(topTokens, topLogprobs, row * top, wanted) : undefined;
      sampled.set(request, { tokenId: tokens[row]!, logprob: logprobs[row]!, top: alternatives });
      row++;
    }
    return sampled;
  }

  dispose(): void {
    this.executable.dispose();
  }
}

/** The first `count` entries of one row of the top-logprobs outputs (padding past the vocabulary dropped). */
function topOf(tokens: ArrayLike<number>, logprobs: ArrayLike<number>, from: number, count: number): TokenLogprob[] {
  const top: TokenLogprob[] = [];
  for (let k = 0; k < count && tokens[from + k]! >= 0; k++) top.push({ tokenId: tokens[from + k]!, logprob: logprobs[from + k]! });
  return top;
}
