import { LOGPROBS_OUTPUT, TOKENS_OUTPUT } from '@ignis/models';
import type { Executable } from '@ignis/tensor';
import type { Request } from './request.js';
import { type PackLimits, type PackedRow, StepPacker } from './step-inputs.js';

/** One sampled token and its log-probability. */
export interface SampledToken {
  readonly tokenId: number;
  readonly logprob: number;
}

/** What the engine asks of a model runner: one call per step, sampled tokens back. */
export interface Runner {
  readonly limits: PackLimits;
  /** Runs one step; returns the token sampled for each row that samples, by request. */
  step(rows: readonly PackedRow[]): Promise<Map<Request, SampledToken>>;
  dispose(): void;
}

/** Batch sizes that get their own CUDA graph: powers of two up to the largest batch. */
export function graphBuckets(maxNumSeqs: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < maxNumSeqs; b *= 2) buckets.push(b);
  buckets.push(maxNumSeqs);
  return buckets;
}

/**
 * Runs a compiled plan (built with sampling) on a loaded executable: the backend samples. With
 * `graphs`, decode steps (one token per sequence, every sequence sampling) are padded to the
 * next batch bucket with fixed-shape inputs, so that each bucket's step is captured once as a
 * CUDA graph and replayed.
 */
export class ExecutableRunner implements Runner {
  private readonly packer: StepPacker;
  private readonly buckets: number[];

  constructor(
    private readonly executable: Executable,
    readonly limits: PackLimits,
    blocksOf: (request: Request) => readonly number[],
    private readonly graphs = false,
  ) {
    this.packer = new StepPacker(limits, blocksOf);
    this.buckets = graphBuckets(limits.maxNumSeqs);
  }

  async step(rows: readonly PackedRow[]): Promise<Map<Request, SampledToken>> {
    const decode = this.graphs && rows.length > 0 && rows.every((r) => r.numNewTokens === 1 && r.sample);
    const inputs = decode
      ? { ...this.packer.pack(rows, { padTo: this.buckets.find((b) => b >= rows.length)!, fixedShape: true }), graph: true }
      : this.packer.pack(rows);
    const outputs = await this.executable.run(inputs, [TOKENS_OUTPUT, LOGPROBS_OUTPUT]);
    const tokens = outputs[TOKENS_OUTPUT]!.data;
    const logprobs = outputs[LOGPROBS_OUTPUT]!.data;
    const sampled = new Map<Request, SampledToken>();
    let row = 0;
    for (const { request, sample } of rows) {
      if (!sample) continue;
      sampled.set(request, { tokenId: tokens[row]!, logprob: logprobs[row]! });
      row++;
    }
    return sampled;
  }

  dispose(): void {
    this.executable.dispose();
  }
}
