import { ReferenceBackend, compile, eliminateDeadOps, fuseAddRmsnorm } from '@ignis/tensor';
import { describe, expect, it } from 'vitest';
import { buildModelGraph } from './architectures.js';
import { openCheckpoint } from './checkpoint.js';
import { LOGITS_OUTPUT, STEP_INPUTS } from './llama.js';
import { FIXTURE_MODELS, fixturePath, readReference } from './testing/index.js';

describe.each(FIXTURE_MODELS)('%s: fusion passes', (name) => {
  it('fuse q/k/v and gate/up per layer and leave the logits bit-identical', async () => {
    const checkpoint = await openCheckpoint(fixturePath(name));
    try {
      const graph = buildModelGraph(checkpoint.spec, { activationDtype: 'f32', blockSize: 16 });
      const maxDims = { T: 64, S: 1, R: 64, MB: 4 };
      const fused = compile(graph, { maxDims });
      const plain = compile(graph, { maxDims, passes: [eliminateDeadOps, fuseAddRmsnorm] });
      const count = (plan: typeof fused, op: string) => plan.ops.filter((o) => o.op === op).length;
      expect(count(fused, 'paged_attention_qkv')).toBe(checkpoint.spec.numLayers);
      expect(count(fused, 'swiglu')).toBe(checkpoint.spec.numLayers);
      expect(count(fused, 'linear')).toBe(4 * checkpoint.spec.numLayers + 1); // qkv, o, gate_up, down; the LM head
      expect(count(plain, 'linear')).toBe(7 * checkpoint.spec.numLayers + 1);
      const ids = readReference(name).prompts[2]!.ids;
      const T = ids.length;
      const positions = Int32Array.from({ length: T }, (_, i) => i);
      const step = {
        dims: { T, S: 1, R: T, MB: 4 },
        inputs: {
          [STEP_INPUTS.tokenIds]: Int32Array.from(ids),
          [STEP_INPUTS.positions]: positions,
          [STEP_INPUTS.slotMapping]: positions.map((p) => 16 + p),
          [STEP_INPUTS.blockTables]: Int32Array.from([1, 2, 3, 4]),
          [STEP_INPUTS.seqLens]: Int32Array.from([T]),
          [STEP_INPUTS.queryStart]: Int32Array.from([0, T]),
          [STEP_INPUTS.logitsIndices]: positions,
        },
      };
      const logits = [];
      for (const plan of [fused, plain]) {
        const exe = await new ReferenceBackend().load(plan, checkpoint.weights, { loadDims: { NB: 5 } });
        logits.push(Float32Array.from((await exe.run(step))[LOGITS_OUTPUT]!.data));
        exe.dispose();
      }
      expect(logits[0]).toEqual(logits[1]);
    } finally {
      await checkpoint.close();
    }
  });
});
