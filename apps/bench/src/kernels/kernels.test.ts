import { probeCuda } from '@ignis/cuda-kernels';
import { syntheticSpec } from '@ignis/models';
import { GraphBuilder, compile } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { modelCases } from './cases.js';
import { runKernels } from './run.js';

const shapes = { decodeBatches: [1, 64], prefillTokens: 8192, context: 4096 };

describe('kernels at model shapes', () => {
  it("takes Llama-3.1-8B's fused linear layers and decode attention, with their costs", () => {
    const cases = modelCases(syntheticSpec('llama-3.1-8b'), shapes);
    expect(cases.filter((c) => c.tokens === 1 && c.layer !== 'attention').map((c) => c.case.name)).toEqual([
      'qkv T=1 N=6144 K=4096',
      'o T=1 N=4096 K=4096',
      'gate_up T=1 N=28672 K=4096',
      'down T=1 N=4096 K=14336',
      'lm_head T=1 N=128256 K=4096',
    ]);
    expect(cases).toHaveLength(2 * 5 + 4 + 2); // no LM head at prefill size
    const gemv = cases.find((c) => c.case.name === 'gate_up T=1 N=28672 K=4096')!.case.cost!('bf16');
    expect(gemv).toEqual({ bytes: (4096 + 28672 * 4096 + 28672) * 2, flops: 2 * 28672 * 4096 });
    const attention = cases.find((c) => c.layer === 'attention' && c.tokens === 64)!.case;
    // 64 sequences read 4096 cached K and V rows of 8 heads x 128.
    expect(attention.cost!('bf16').bytes).toBe((2 * 64 * 4096 * 8 * 128 + 2 * 64 * 32 * 128) * 2);
    expect(attention.loadDims).toEqual({ NB: 1 + 64 * 256 });
  });

  it('builds graphs that compile, with steps that fit them', () => {
    for (const c of modelCases(syntheticSpec('llama-3.2-1b'), { decodeBatches: [2], prefillTokens: 4, context: 40 })) {
      const b = new GraphBuilder(c.case.name);
      c.case.build(b, 'bf16');
      const plan = compile(b.build(), { maxDims: c.case.maxDims });
      const [step] = c.case.steps(Math.random);
      for (const v of plan.values.filter((x) => x.kind === 'input')) expect(step!.inputs[v.name], v.name).toBeDefined();
    }
  });

  // On a GPU machine it would time them for real: tooling/gpu/run-bench-report.sh does that.
  it.skipIf(probeCuda().available)('says why it skipped without a GPU', async () => {
    const report = await runKernels(syntheticSpec('llama-3.1-8b'), { ...shapes, model: 'synthetic:llama-3.1-8b', dtype: 'bf16', iterations: 5 });
    expect(report.skipped).toMatch(/^no GPU \(.+\)$/);
    expect(report.rows).toEqual([]);
  });
});
