import { type Executable, ReferenceBackend, compile } from '@ignis/tensor';
import { relativeError } from '@ignis/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { type Checkpoint, checkWeights, openCheckpoint } from './checkpoint.js';
import { LOGITS_OUTPUT, STEP_INPUTS } from './llama.js';
import { FIXTURE_MODELS, fixturePath, readReference, readReferenceLogits } from './testing/index.js';

const BLOCK_SIZE = 16;
const MAX_TOKENS = 64;

/** The reference backend vs transformers (float32, CPU) on every committed fixture checkpoint. */
describe.each(FIXTURE_MODELS)('%s on the reference backend', (name) => {
  let checkpoint: Checkpoint;
  let executable: Executable;
  const reference = readReference(name);

  beforeAll(async () => {
    checkpoint = await openCheckpoint(fixturePath(name));
    const graph = buildModelGraph(checkpoint.spec, { activationDtype: 'f32', blockSize: BLOCK_SIZE });
    checkWeights(graph, checkpoint);
    const plan = compile(graph, { maxDims: { T: MAX_TOKENS, S: 1, R: MAX_TOKENS, MB: MAX_TOKENS / BLOCK_SIZE } });
    executable = await new ReferenceBackend().load(plan, checkpoint.weights, { loadDims: { NB: 1 + MAX_TOKENS / BLOCK_SIZE } });
  });

  afterAll(async () => {
    executable.dispose();
    await checkpoint.close();
  });

  /**
   * Runs `ids` through the model in chunks of `chunk` tokens (the KV cache carries the prefix from
   * one step to the next) and returns the logits of every position.
   */
  async function promptLogits(ids: number[], chunk: number): Promise<Float32Array> {
    const vocab = checkpoint.spec.vocabSize;
    const all = new Float32Array(ids.length * vocab);
    const blocks = Int32Array.from({ length: MAX_TOKENS / BLOCK_SIZE }, (_, i) => i + 1); // block 0 is never used
    for (let start = 0; start < ids.length; start += chunk) {
      const n = Math.min(chunk, ids.length - start);
      const positions = Int32Array.from({ length: n }, (_, j) => start + j);
      const out = await executable.run({
        dims: { T: n, S: 1, R: n, MB: blocks.length },
        inputs: {
          [STEP_INPUTS.tokenIds]: Int32Array.from(ids.slice(start, start + n)),
          [STEP_INPUTS.positions]: positions,
          [STEP_INPUTS.slotMapping]: positions.map((p) => blocks[Math.floor(p / BLOCK_SIZE)]! * BLOCK_SIZE + (p % BLOCK_SIZE)),
          [STEP_INPUTS.blockTables]: blocks,
          [STEP_INPUTS.seqLens]: Int32Array.from([start + n]),
          [STEP_INPUTS.queryStart]: Int32Array.from([0, n]),
          [STEP_INPUTS.logitsIndices]: Int32Array.from({ length: n }, (_, j) => j),
        },
      });
      all.set(out[LOGITS_OUTPUT]!.data, start * vocab);
    }
    return all;
  }

  it.each(reference.prompts.map((p, i) => [i, p.ids.length] as const))(
    'prompt %i (%i tokens): logits of every position within 1e-4 of transformers',
    async (index) => {
      const expected = await readReferenceLogits(name, index);
      const actual = await promptLogits(reference.prompts[index]!.ids, MAX_TOKENS);
      expect(relativeError(actual, expected)).toBeLessThan(1e-4);
    },
  );

  it('the long prompt in chunks of 7 (chunked prefill over the paged cache) gives the same logits', async () => {
    const index = reference.prompts.length - 1;
    const expected = await readReferenceLogits(name, index);
    const actual = await promptLogits(reference.prompts[index]!.ids, 7);
    expect(relativeError(actual, expected)).toBeLessThan(1e-4);
  });
});
