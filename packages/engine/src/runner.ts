import { LOGITS_OUTPUT } from '@ignis/models';
import type { Executable } from '@ignis/tensor';
import { type SampledToken, sampleToken } from './sampling/sampler.js';
import type { StepPlan } from './sequence.js';
import { type PackLimits, StepPacker } from './step-inputs.js';

/** What the engine asks of a model runner: one call per step, sampled tokens back. */
export interface Runner {
  readonly limits: PackLimits;
  /** Runs one step; returns the token sampled for each sequence that samples, by sequence id. */
  step(plan: StepPlan): Promise<Map<number, SampledToken>>;
  dispose(): void;
}

/** Runs a compiled plan on a loaded executable and samples on the host. */
export class ExecutableRunner implements Runner {
  private readonly packer: StepPacker;

  constructor(
    private readonly executable: Executable,
    readonly limits: PackLimits,
  ) {
    this.packer = new StepPacker(limits);
  }

  async step(plan: StepPlan): Promise<Map<number, SampledToken>> {
    const outputs = await this.executable.run(this.packer.pack(plan));
    const logits = outputs[LOGITS_OUTPUT]!;
    const vocab = logits.shape[1]!;
    const sampled = new Map<number, SampledToken>();
    let row = 0;
    for (const { seq, sample } of plan.scheduled) {
      if (!sample) continue;
      sampled.set(seq.id, sampleToken(logits.data.subarray(row * vocab, (row + 1) * vocab), seq.params, seq.random));
      row++;
    }
    return sampled;
  }

  dispose(): void {
    this.executable.dispose();
  }
}
