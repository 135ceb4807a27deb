import { ReferenceBackend, relativeError } from '@ignis/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { FIXTURE_MODELS, type LogitsModel, fixturePath, loadLogitsModel, promptLogits, readReference, readReferenceLogits } from './testing/index.js';

/** The reference backend vs transformers (float32, CPU) on every committed fixture checkpoint. */
describe.each(FIXTURE_MODELS)('%s on the reference backend', (name) => {
  let checkpoint: Checkpoint;
  let model: LogitsModel;
  const reference = readReference(name);

  beforeAll(async () => {
    checkpoint = await openCheckpoint(fixturePath(name));
    model = await loadLogitsModel(checkpoint.spec, new ReferenceBackend(), checkpoint.weights, { dtype: 'f32', maxTokens: 64 });
  });

  afterAll(async () => {
    model.executable.dispose();
    await checkpoint.close();
  });

  it.each(reference.prompts.map((p, i) => [i, p.ids.length] as const))(
    'prompt %i (%i tokens): logits of every position within 1e-4 of transformers',
    async (index) => {
      const expected = await readReferenceLogits(name, index);
      const actual = await promptLogits(model, reference.prompts[index]!.ids);
      expect(relativeError(actual, expected)).toBeLessThan(1e-4);
    },
  );

  it('the long prompt in chunks of 7 (chunked prefill over the paged cache) gives the same logits', async () => {
    const index = reference.prompts.length - 1;
    const expected = await readReferenceLogits(name, index);
    const actual = await promptLogits(model, reference.prompts[index]!.ids, 7);
    expect(relativeError(actual, expected)).toBeLessThan(1e-4);
  });
});
