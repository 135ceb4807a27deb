import { rm } from 'node:fs/promises';
import { CheckpointError, ModelConfigError } from '@ignis/models';
import { type FixtureEdits, editedFixture, readReference } from '@ignis/models/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { OutOfHostMemoryError } from './errors.js';
import { LLM, type LLMOptions } from './llm.js';
import { TokenizerError } from './tokenizer/index.js';

/**
 * Hostile and broken checkpoints fail LLM.load with an error that names what is wrong, before
 * the weights are loaded (each of these configs used to crash the process or run for minutes).
 * The fixture: Mistral with f32 weights in one model.safetensors and a chat_template.jinja.
 */
const FIXTURE = 'mistral-headdim-window';
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function loadEdited(edits: FixtureEdits, options: LLMOptions = {}): Promise<unknown> {
  const dir = await editedFixture(FIXTURE, edits);
  dirs.push(dir);
  const llm = await LLM.load(dir, { device: 'cpu', ...options }).catch((error: unknown) => error);
  if (llm instanceof LLM) llm.dispose();
  return llm;
}

/** The fixture's f32 layer-0 up projection (128 x 64) with `value` at element `at`. */
const upProjWith = (value: number, at: number): FixtureEdits => ({
  tensors: (t) => {
    (t['model.layers.0.mlp.up_proj.weight']!.data as Float32Array)[at] = value;
  },
});

describe('LLM.load refuses a hostile config at once, naming the key, the value and the range', () => {
  it.each([
    [{ num_hidden_layers: 1e9 }, /num_hidden_layers must be an integer in \[1, 1024\], got 1000000000$/],
    [{ num_hidden_layers: 1e6 }, /num_hidden_layers must be an integer in \[1, 1024\], got 1000000$/],
    [{ head_dim: 1e9 }, /head_dim must be an integer in \[1, 1024\], got 1000000000$/],
    [{ eos_token_id: 99999 }, /eos_token_id must be a token id in \[0, 320\) \(vocab_size 320\) or a list of them, got 99999$/],
    [{ max_position_embeddings: 1e12 }, /max_position_embeddings must be an integer in \[1, 16777216\], got 1000000000000$/],
  ])('%o', async (config, message) => {
    const error = await loadEdited({ config });
    expect(error).toBeInstanceOf(ModelConfigError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('LLM.load checks the weights for NaN and infinity', () => {
  it('in a sample of every tensor at every load: names the tensor and the file by base name', async () => {
    const error = await loadEdited(upProjWith(Number.NaN, 0));
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe('tensor model.layers.0.mlp.up_proj.weight in model.safetensors holds NaN at element 0 of 8192: the checkpoint is corrupt');
  });

  it('in every element with checkWeights', async () => {
    const at = 4000; // between the runs the sample reads (8 runs of 128 f32 elements over 8192)
    expect(await loadEdited(upProjWith(Number.POSITIVE_INFINITY, at))).toBeInstanceOf(LLM);
    const error = await loadEdited(upProjWith(Number.POSITIVE_INFINITY, at), { checkWeights: true });
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^tensor model.layers.0.mlp.up_proj.weight in model.safetensors holds Infinity at element 4000 of 8192/);
  });

  it('a finite checkpoint loads with checkWeights and generates what it does without', async () => {
    const prompt = readReference(FIXTURE).prompts[0]!;
    const dir = await editedFixture(FIXTURE, {});
    dirs.push(dir);
    const llm = await LLM.load(dir, { device: 'cpu', checkWeights: true });
    try {
      expect((await llm.generate(prompt.ids, { temperature: 0, maxTokens: 24, ignoreEos: true })).tokenIds).toEqual(prompt.greedy);
    } finally {
      llm.dispose();
    }
  });
});

describe('LLM.load refuses before loading', () => {
  it('a chat template that does not parse, naming its file by base name', async () => {
    const error = await loadEdited({ files: { 'chat_template.jinja': '{% for m in messages %}{{ m.content' } });
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toMatch(/^chat template from chat_template\.jinja failed to parse: /);
  });

  it('a KV cache larger than the machine has memory, giving the sizes', async () => {
    // 2^24 positions x 256 sequences x 512 bytes of K and V per token: 2 TiB, more than any test machine has.
    const error = await loadEdited({ config: { max_position_embeddings: 2 ** 24 } }, { maxNumSeqs: 256, kvCacheBytes: 2 ** 50 });
    expect(error).toBeInstanceOf(OutOfHostMemoryError);
    expect((error as Error).message).toMatch(/^not enough memory to run on the CPU: .* the KV cache 2048\.0 GiB and the activations [\d.]+ GiB, [\d.]+ GiB in all, and [\d.]+ GiB are available/);
  });
});
