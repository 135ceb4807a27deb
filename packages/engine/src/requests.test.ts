import { openCheckpoint } from '@ignis/models';
import { fixturePath, loadLogitsModel, promptLogits, readReference } from '@ignis/models/testing';
import { ReferenceBackend } from '@ignis/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionDelta } from './completion.js';
import type { RequestMetrics, StepInfo } from './engine-core.js';
import { LLM } from './llm.js';

const NAME = 'llama3-gqa-sharded';
const reference = readReference(NAME);
const GREEDY = { temperature: 0, maxTokens: 24, ignoreEos: true } as const;

describe('per-request features', () => {
  let llm: LLM;
  const finished: RequestMetrics[] = [];
  const steps: StepInfo[] = [];

  beforeAll(async () => {
    llm = await LLM.load(fixturePath(NAME), {
      device: 'cpu',
      events: { onRequestFinished: (m) => finished.push(m), onStep: (s) => steps.push(s) },
    });
  });
  afterAll(() => llm.dispose());

  it('n > 1: the other completions reuse the prompt blocks the first computed', async () => {
    const prompt = Array.from({ length: 64 }, (_, i) => 1 + ((i * 37) % 300)); // 4 full blocks of 16
    const before = llm.stats();
    const result = await llm.generate(prompt, { ...GREEDY, maxTokens: 6, n: 4 });
    const after = llm.stats();
    expect(result.outputs.map((o) => o.index)).toEqual([0, 1, 2, 3]);
    const alone = await llm.generate(prompt, { ...GREEDY, maxTokens: 6 });
    for (const output of result.outputs) expect(output.tokenIds).toEqual(alone.tokenIds);
    // Each sibling finds 3 full blocks (the last prompt token is always computed, so the 4th block is not looked up).
    expect(after.reusedPromptTokens - before.reusedPromptTokens).toBe(3 * 48);
    expect(after.promptTokens - before.promptTokens).toBe(4 * 64);
  });

  it('n > 1 with a seed: completions differ, and the first is what n = 1 gives with that seed', async () => {
    const ids = reference.prompts[1]!.ids;
    const params = { temperature: 1, maxTokens: 12, ignoreEos: true, seed: 42 };
    const many = await llm.generate(ids, { ...params, n: 3 });
    const one = await llm.generate(ids, params);
    expect(many.outputs[0]!.tokenIds).toEqual(one.tokenIds);
    expect(new Set(many.outputs.map((o) => o.tokenIds.join())).size).toBe(3);
    expect((await llm.generate(ids, { ...params, n: 3 })).outputs).toEqual(many.outputs);
  });

  it('a stream yields deltas that add up to the result, the last one with the finish reason', async () => {
    const prompt = reference.prompts[0]!;
    const handle = await llm.stream(prompt.ids, GREEDY);
    const deltas: CompletionDelta[] = [];
    for await (const delta of handle) deltas.push(delta);
    const result = await handle.result;
    expect(deltas.flatMap((d) => d.tokenIds)).toEqual(prompt.greedy);
    expect(deltas.map((d) => d.text).join('')).toBe(result.text);
    expect(deltas.flatMap((d) => d.logprobs)).toEqual(result.logprobs);
    expect(deltas.at(-1)!.finishReason).toBe('length');
    expect(deltas.slice(0, -1).every((d) => d.finishReason === undefined)).toBe(true);
    expect(result.logprobs.every((l) => l <= 0 && Number.isFinite(l))).toBe(true);
  });

  it('abort ends a stream early with finish reason abort and frees its blocks', async () => {
    const handle = await llm.stream(reference.prompts[0]!.ids, { ...GREEDY, maxTokens: 200 });
    let count = 0;
    let last: CompletionDelta | undefined;
    for await (const delta of handle) {
      last = delta;
      if (++count === 3) handle.abort();
    }
    const result = await handle.result;
    expect(last!.finishReason).toBe('abort');
    expect(result.finishReason).toBe('abort');
    expect(result.tokenIds.length).toBeLessThan(10);
    expect(result.tokenIds).toEqual(reference.prompts[0]!.greedy.slice(0, result.tokenIds.length));
    const stats = llm.stats();
    expect([stats.running, stats.waiting, stats.freeKvBlocks]).toEqual([0, 0, stats.kvBlocks]);
  });

  it('reports each request: queue time, time to first token, inter-token gaps, counts', async () => {
    finished.length = 0;
    steps.length = 0;
    const results = await llm.generateBatch(reference.prompts.map((p) => p.ids), { ...GREEDY, maxTokens: 5 });
    expect(finished).toHaveLength(results.length);
    for (const m of finished) {
      expect(m.queueMs).toBeGreaterThanOrEqual(0);
      expect(m.timeToFirstTokenMs).toBeGreaterThanOrEqual(m.queueMs);
      expect(m.totalMs).toBeGreaterThanOrEqual(m.timeToFirstTokenMs);
      expect(m.interTokenMs).toHaveLength(4);
      expect(m.outputTokens).toBe(5);
      expect(m.finishReason).toBe('length');
    }
    expect(finished.map((m) => m.promptTokens).sort()).toEqual(reference.prompts.map((p) => p.ids.length).sort());
    // Batched: the prompts prefill in one step, then 4 decode steps carry every request.
    expect(steps).toHaveLength(5);
    expect(steps[1]).toMatchObject({ scheduled: results.length, tokens: results.length, preempted: 0 });
    for (const s of steps) expect(Math.min(s.runMs, s.hostMs)).toBeGreaterThanOrEqual(0);
  });
});

describe('repetition, presence and frequency penalties', () => {
  it('greedy decoding with penalties picks what the penalized full-model logits pick', async () => {
    const checkpoint = await openCheckpoint(fixturePath(NAME));
    const model = await loadLogitsModel(checkpoint.spec, new ReferenceBackend(), checkpoint.weights, { dtype: 'f32', maxTokens: 64 });
    const llm = await LLM.load(fixturePath(NAME), { device: 'cpu' });
    try {
      const penalties = { repetitionPenalty: 1.5, presencePenalty: 0.5, frequencyPenalty: 0.3 };
      for (const prompt of reference.prompts.slice(0, 3)) {
        const ids = [...prompt.ids];
        // The penalties as vLLM defines them, applied to the last row of the model's logits.
        for (let step = 0; step < 16; step++) {
          const all = await promptLogits(model, ids);
          const vocab = checkpoint.spec.vocabSize;
          const row = Array.from(all.subarray((ids.length - 1) * vocab, ids.length * vocab));
          const output = ids.slice(prompt.ids.length);
          for (const t of new Set(ids)) row[t] = row[t]! > 0 ? row[t]! / penalties.repetitionPenalty : row[t]! * penalties.repetitionPenalty;
          for (const t of new Set(output)) {
            const count = output.filter((o) => o === t).length;
            row[t] = row[t]! - penalties.frequencyPenalty * count - penalties.presencePenalty;
          }
          ids.push(row.indexOf(Math.max(...row)));
        }
        const expected = ids.slice(prompt.ids.length);
        const result = await llm.generate(prompt.ids, { ...GREEDY, maxTokens: 16, ...penalties });
        expect(result.tokenIds).toEqual(expected);
        expect(expected).not.toEqual(prompt.greedy.slice(0, 16)); // the penalties did change something
      }
    } finally {
      llm.dispose();
      model.executable.dispose();
      await checkpoint.close();
    }
  });
});

describe('top logprobs', () => {
  it('each token comes with the most likely tokens of the penalized logits and their log-softmax', async () => {
    const checkpoint = await openCheckpoint(fixturePath(NAME));
    const model = await loadLogitsModel(checkpoint.spec, new ReferenceBackend(), checkpoint.weights, { dtype: 'f32', maxTokens: 64 });
    const llm = await LLM.load(fixturePath(NAME), { device: 'cpu' });
    try {
      const vocab = checkpoint.spec.vocabSize;
      const params = { ...GREEDY, maxTokens: 8, topLogprobs: 5, repetitionPenalty: 1.3 };
      const prompts = reference.prompts.slice(0, 2).map((p) => p.ids);
      // Batched with a request that asks for none: its output carries none, and nothing else changes.
      const [withTop, without] = await Promise.all([llm.generate(prompts[0]!, params), llm.generate(prompts[1]!, { ...params, topLogprobs: 0 })]);
      expect(without!.topLogprobs).toBeUndefined();
      const ids = [...prompts[0]!];
      for (const [k, token] of withTop!.tokenIds.entries()) {
        const all = await promptLogits(model, ids);
        const row = Array.from(all.subarray((ids.length - 1) * vocab, ids.length * vocab));
        for (const t of new Set(ids)) row[t] = row[t]! > 0 ? row[t]! / params.repetitionPenalty : row[t]! * params.repetitionPenalty;
        const normalizer = Math.log(row.reduce((sum, x) => sum + Math.exp(x), 0));
        const ranked = row.map((x, i) => ({ i, x })).sort((a, b) => b.x - a.x || a.i - b.i).slice(0, 5);
        const top = withTop!.topLogprobs![k]!;
        expect(top.map((t) => t.tokenId)).toEqual(ranked.map((r) => r.i));
        for (const [j, r] of ranked.entries()) expect(top[j]!.logprob).toBeCloseTo(r.x - normalizer, 4);
        expect(token).toBe(ranked[0]!.i); // greedy: the sampled token is the most likely one, with the same logprob
        expect(withTop!.logprobs[k]).toBe(top[0]!.logprob);
        ids.push(token);
      }
    } finally {
      llm.dispose();
      model.executable.dispose();
      await checkpoint.close();
    }
  });

  it('streamed deltas carry one list per token, and the count is checked', async () => {
    const llm = await LLM.load(fixturePath(NAME), { device: 'cpu' });
    try {
      const handle = await llm.stream(reference.prompts[0]!.ids, { ...GREEDY, maxTokens: 6, topLogprobs: 3 });
      let tokens = 0;
      for await (const delta of handle) {
        expect(delta.topLogprobs).toHaveLength(delta.tokenIds.length);
        for (const top of delta.topLogprobs!) expect(top).toHaveLength(3);
        tokens += delta.tokenIds.length;
      }
      expect(tokens).toBe(6);
      await expect(llm.generate([1, 2], { topLogprobs: 21 })).rejects.toThrow(/topLogprobs must be an integer in \[0, 20\], got 21/);
    } finally {
      llm.dispose();
    }
  });
});
