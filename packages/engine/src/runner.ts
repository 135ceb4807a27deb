import { LOGPROBS_OUTPUT, TOKENS_OUTPUT } from '@ignis/models';
import type { Executable } from '@ignis/tensor';
import type { StepPlan } from './sequence.js';
import { type PackLimits, StepPacker } from './step-inputs.js';

/** One sampled token and its log-probability under the model's unmodified distribution. */
export interface SampledToken {
  readonly tokenId: number;
  readonly logprob: number;
}

/** What the engine asks of a model runner: one call per step, sampled tokens back. */
export interface Runner {
  readonly limits: PackLimits;
  /** Runs one step; returns the token sampled for each sequence that samples, by sequence id. */
  step(plan: StepPlan): Promise<Map<number, SampledToken>>;
  dispose(): void;
}

/** Runs a compiled plan (built with sampling) on a loaded executable: the backend samples. */
export class ExecutableRunner implements Runner {
  private readonly packer: StepPacker;

  /** `graphs`: mark decode steps (one token per sequence) for capture and replay (CUDA graphs). */
  constructor(
    private readonly executable: Executable,
    readonly limits: PackLimits,
    private readonly graphs = false,
  ) {
    this.packer = new StepPacker(limits);
  }

  async step(plan: StepPlan): Promise<Map<number, SampledToken>> {
    const decode = this.graphs && plan.scheduled.every((s) => s.numNewTokens === 1 && s.sample);
    const inputs = this.packer.pack(plan, decode);
    const outputs = await this.executable.run(decode ? { ...inputs, graph: true } : inputs, [TOKENS_OUTPUT, LOGPROBS_OUTPUT]);
    const tokens = outputs[TOKENS_OUTPUT]!.data;
    const logprobs = outputs[LOGPROBS_OUTPUT]!.data;
    const sampled = new Map<number, SampledToken>();
    let row = 0;
    for (const { seq, sample } of plan.scheduled) {
      if (!sample) continue;
      sampled.set(seq.id, { tokenId: tokens[row]!, logprob: logprobs[row]! });
      row++;
    }
    return sampled;
  }

  dispose(): void {
    this.executable.dispose();
  }
}
