import { FP8_FIXTURE_MODELS, type LogitsModel, fixturePath, loadLogitsModel, promptLogits, readReference, readReferenceLogits } from '@ignis/models/testing';
import { type Checkpoint, openCheckpoint } from '@ignis/models';
import { ReferenceBackend, relativeError } from '@ignis/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWeights, planQuantization } from './plan.js';

/**
 * Each FP8 checkpoint format on the reference backend against an independent PyTorch emulation
 * written from the format's documentation (tooling/fixtures/make_fp8_fixtures.py): the same
 * quantization decisions give logits equal up to f32 rounding.
 */
describe.each(FP8_FIXTURE_MODELS)('%s on the reference backend', (name) => {
  let checkpoint: Checkpoint;
  let model: LogitsModel;
  let formats = '';
  const reference = readReference(name);

  beforeAll(async () => {
    checkpoint = await openCheckpoint(fixturePath(name));
    const backend = new ReferenceBackend();
    const quant = planQuantization({ checkpointConfig: checkpoint.spec.quantizationConfig, where: name, method: 'auto', source: checkpoint.weights, backend });
    model = await loadLogitsModel(checkpoint.spec, backend, (plan) => {
      formats = describeWeights(plan);
      return quant.weightsFor(plan);
    }, { dtype: 'f32', maxTokens: 64, passes: [quant.pass] });
  });

  afterAll(async () => {
    model.executable.dispose();
    await checkpoint.close();
  });

  it('runs every linear but the LM head in FP8, in the checkpoint format', () => {
    const expected = name === 'llama3-fp8-block' ? '32x32 block scales, fp8-token-group' : name === 'qwen2-fp8-static' ? 'channel scales, fp8-static' : 'channel scales, fp8-token';
    const parts = formats.split('; ');
    expect(parts).toHaveLength(2);
    expect(parts).toContainEqual(expect.stringMatching(/^\d+ x f32$/));
    expect(parts).toContainEqual(expect.stringMatching(new RegExp(`^\\d+ x fp8e4m3, ${expected} activations$`)));
  });

  // Identical quantization decisions give logits equal up to f32 rounding (~3e-7). But PyTorch and
  // we sum in different orders, and where x / scale falls within that rounding of the midpoint
  // between two e4m3 codes, the two pick different codes (one FP8 step, ~6%, in one element): a
  // position downstream of such a flip differs by a few percent (one of the 97 positions here).
  // So: at least 90% of positions within 1e-4, and none past 0.1. A wrong scale, layout or rule
  // moves every position far more.
  it.each(reference.prompts.map((p, i) => [i, p.ids.length] as const))('prompt %i (%i tokens): logits of the emulation, up to f32 rounding and its rare code flips', async (index) => {
    const expected = await readReferenceLogits(name, index);
    const actual = await promptLogits(model, reference.prompts[index]!.ids);
    const vocab = checkpoint.spec.vocabSize;
    const errors = Array.from({ length: expected.length / vocab }, (_, t) => relativeError(actual.subarray(t * vocab, (t + 1) * vocab), expected.subarray(t * vocab, (t + 1) * vocab)));
    expect(errors.filter((e) => e < 1e-4).length).toBeGreaterThanOrEqual(0.9 * errors.length);
    expect(Math.max(...errors)).toBeLessThan(0.1);
  });

  it.each(reference.prompts.map((p, i) => [i] as const))('prompt %i: the greedy continuation is the emulation\'s, token for token', async (index) => {
    const prompt = reference.prompts[index]!;
    const sequence = [...prompt.ids, ...prompt.greedy];
    const logits = await promptLogits(model, sequence.slice(0, -1), 7);
    const vocab = checkpoint.spec.vocabSize;
    const picked = prompt.greedy.map((_, j) => {
      const row = logits.subarray((prompt.ids.length - 1 + j) * vocab, (prompt.ids.length + j) * vocab);
      return row.indexOf(Math.max(...row));
    });
    expect(picked).toStrictEqual(prompt.greedy);
  });
});
