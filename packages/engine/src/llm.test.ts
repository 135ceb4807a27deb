import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_MODELS, fixturePath, readReference } from '@ignis/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCuda } from '@ignis/cuda-kernels';
import { InvalidParameterError, PromptTooLongError } from './errors.js';
import { LLM } from './llm.js';

const GREEDY = { temperature: 0, maxTokens: 24, ignoreEos: true } as const;

describe.each(FIXTURE_MODELS)('%s: generation matches transformers', (name) => {
  const reference = readReference(name);
  let llm: LLM;
  let chunked: LLM;

  beforeAll(async () => {
    llm = await LLM.load(fixturePath(name), { device: 'cpu' });
    chunked = await LLM.load(fixturePath(name), { device: 'cpu', maxNumBatchedTokens: 5 });
  });
  afterAll(() => {
    llm.dispose();
    chunked.dispose();
  });

  it('greedy continuations are token-for-token those of transformers', async () => {
    for (const prompt of reference.prompts) {
      const result = await llm.generate(prompt.ids, GREEDY);
      expect(result.tokenIds).toEqual(prompt.greedy);
      expect(result.finishReason).toBe('length');
    }
  });

  it('prefilled in chunks of 5 tokens, the continuations are the same', async () => {
    for (const prompt of reference.prompts) {
      expect((await chunked.generate(prompt.ids, GREEDY)).tokenIds).toEqual(prompt.greedy);
    }
  });

  it('a text prompt is tokenized as the Hugging Face tokenizer does', async () => {
    for (const [text, ids] of Object.entries(reference.encode)) {
      expect(await llm.tokenizer!.encode(text)).toEqual(ids);
    }
    const prompt = reference.prompts[0]!;
    const result = await llm.generate(prompt.text!, GREEDY);
    expect(result.promptTokenIds).toEqual(prompt.ids);
    expect(result.tokenIds).toEqual(prompt.greedy);
  });

  it('the chat template renders exactly as transformers renders it', () => {
    expect(llm.tokenizer!.applyChatTemplate(reference.chat.messages, { addGenerationPrompt: true })).toBe(reference.chat.rendered);
  });

});

/**
 * Byte-level BPE fixtures only: with byte-fallback (SentencePiece-style) tokenizers, Hugging Face
 * turns a whole run of byte tokens that is invalid UTF-8 into one U+FFFD per byte, so on the random
 * byte soup these untrained models emit, no incremental decoder can equal one whole decode.
 * (The detokenizer's own tests cover that tokenizer family on real text.)
 */
describe.each(['llama3-gqa-sharded', 'llama32-tied-legacy', 'qwen2-bias-tied'] as const)('%s: streamed text', (name) => {
  it('is the detokenized continuation in the context of the prompt', async () => {
    const llm = await LLM.load(fixturePath(name), { device: 'cpu' });
    try {
      for (const prompt of readReference(name).prompts) {
        const result = await llm.generate(prompt.ids, GREEDY);
        const whole = await llm.tokenizer!.decode([...prompt.ids, ...prompt.greedy]);
        const head = await llm.tokenizer!.decode(prompt.ids);
        expect(result.text).toBe(whole.slice(head.length));
      }
    } finally {
      llm.dispose();
    }
  });
});

describe('sampling, stop rules and errors', () => {
  const name = 'llama3-gqa-sharded';
  const reference = readReference(name);
  const ids = reference.prompts[2]!.ids;
  let llm: LLM;

  beforeAll(async () => {
    llm = await LLM.load(fixturePath(name), { device: 'cpu' });
  });
  afterAll(() => llm.dispose());

  it('the same seed gives the same tokens; another seed gives others', async () => {
    const params = { temperature: 1, maxTokens: 16, seed: 7, ignoreEos: true };
    const a = await llm.generate(ids, params);
    const b = await llm.generate(ids, params);
    const c = await llm.generate(ids, { ...params, seed: 8 });
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
  });

  it('top-k 1 and a tiny top-p are greedy whatever the temperature', async () => {
    const greedy = reference.prompts[2]!.greedy.slice(0, 10);
    expect((await llm.generate(ids, { temperature: 5, topK: 1, maxTokens: 10, ignoreEos: true, seed: 1 })).tokenIds).toEqual(greedy);
    expect((await llm.generate(ids, { temperature: 5, topP: 1e-9, maxTokens: 10, ignoreEos: true, seed: 1 })).tokenIds).toEqual(greedy);
  });

  it('a stop string ends generation and is left out of the text', async () => {
    const full = await llm.generate(ids, GREEDY);
    const stop = full.text.slice(6, 9);
    const at = full.text.indexOf(stop);
    const stopped = await llm.generate(ids, { ...GREEDY, stop: [stop] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.text).toBe(full.text.slice(0, at));
    expect(stopped.tokenIds.length).toBeLessThan(full.tokenIds.length);
  });

  it('calls made at once are served in turn and give what each gives alone', async () => {
    const alone = await Promise.all(reference.prompts.map((p) => llm.generate(p.ids, GREEDY)));
    expect(alone.map((r) => r.tokenIds)).toEqual(reference.prompts.map((p) => p.greedy));
  });

  it('rejects bad prompts and parameters with specific errors', async () => {
    await expect(llm.generate([], GREEDY)).rejects.toThrow(/the prompt is empty/);
    await expect(llm.generate([5, 320], GREEDY)).rejects.toThrow(/token id 320 is outside the vocabulary \[0, 320\)/);
    await expect(llm.generate(ids, { temperature: -1 })).rejects.toThrow(InvalidParameterError);
    await expect(llm.generate(ids, { topP: 0 })).rejects.toThrow(/topP must be in \(0, 1\], got 0/);
    await expect(llm.generate(ids, { maxTokens: 0 })).rejects.toThrow(/maxTokens must be an integer >= 1/);
  });

  it('rejects a prompt longer than the context, and stops at the context length', async () => {
    const short = await LLM.load(fixturePath(name), { device: 'cpu', maxModelLen: 40 });
    try {
      await expect(short.generate(new Array(40).fill(5), GREEDY)).rejects.toThrow(PromptTooLongError);
      await expect(short.generate(new Array(40).fill(5), GREEDY)).rejects.toThrow(/the prompt has 40 tokens; the model's context holds 40/);
      const result = await short.generate(ids, { ...GREEDY, maxTokens: 100 });
      expect(result.finishReason).toBe('length');
      expect(ids.length + result.tokenIds.length).toBe(40);
      expect(result.tokenIds).toEqual(reference.prompts[2]!.greedy.slice(0, 3));
    } finally {
      short.dispose();
    }
  });

  it.runIf(!probeCuda().available)('without a usable GPU, --device cuda fails and says why; auto falls back to the CPU', async () => {
    await expect(LLM.load(fixturePath(name), { device: 'cuda' })).rejects.toThrow(/the CUDA backend is not available: /);
    await expect(LLM.load(fixturePath(name), { device: 'cpu', dtype: 'bfloat16' })).rejects.toThrow(/bfloat16 needs the CUDA backend/);
    const auto = await LLM.load(fixturePath(name), { device: 'auto' });
    expect(auto.device).toBe('cpu');
    auto.dispose();
  });
});

describe('end of sequence', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ignis-eos-'));
    await cp(fixturePath('qwen2-bias-tied'), dir, { recursive: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stops at an EOS token from generation_config.json, keeping it in the ids but not the text', async () => {
    const reference = readReference('qwen2-bias-tied');
    const prompt = reference.prompts[0]!;
    const eos = prompt.greedy[3]!;
    const path = join(dir, 'generation_config.json');
    const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...config, eos_token_id: [1, eos] }));
    const llm = await LLM.load(dir, { device: 'cpu' });
    try {
      const stopped = await llm.generate(prompt.ids, { temperature: 0, maxTokens: 24 });
      expect(stopped.finishReason).toBe('stop');
      expect(stopped.tokenIds).toEqual(prompt.greedy.slice(0, 4));
      const ignored = await llm.generate(prompt.ids, GREEDY);
      expect(ignored.tokenIds).toEqual(prompt.greedy);
    } finally {
      llm.dispose();
    }
  });
});
