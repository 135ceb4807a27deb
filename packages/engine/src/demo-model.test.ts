import { readFileSync } from 'node:fs';
import { DEMO_MODELS, demoModelPath, readReferenceIn } from '@ignis/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLM } from './llm.js';

// The trained demo models against transformers (reference.json, made by tooling/train-demo):
// real text, so unlike the random fixtures this also checks the detokenized continuations.
describe.each(DEMO_MODELS)('%s: Ignis reproduces transformers', (name) => {
  const dir = demoModelPath(name);
  const reference = readReferenceIn(dir);
  let llm: LLM;

  beforeAll(async () => {
    llm = await LLM.load(dir, { device: 'cpu' });
  });
  afterAll(() => llm.dispose());

  it('encodes text as the Hugging Face tokenizer does', async () => {
    for (const [text, ids] of Object.entries(reference.encode)) expect(await llm.tokenizer!.encode(text)).toEqual(ids);
  });

  it('greedy continuations of the text prompts are token for token those of transformers, and so is their text', async () => {
    for (const prompt of reference.prompts) {
      const result = await llm.generate(prompt.text!, { temperature: 0, maxTokens: prompt.greedy.length, ignoreEos: true });
      expect(result.promptTokenIds).toEqual(prompt.ids);
      expect(result.tokenIds).toEqual(prompt.greedy);
      expect(result.text).toBe(prompt.greedy_text);
    }
  });

  it('the chat template renders as transformers renders it', () => {
    expect(llm.tokenizer!.applyChatTemplate(reference.chat.messages, { addGenerationPrompt: true })).toBe(reference.chat.rendered);
  });
});

it('the draft model shares the main model tokenizer (speculative decoding needs one vocabulary)', () => {
  const [main, draft] = DEMO_MODELS.map((name) => readFileSync(`${demoModelPath(name)}/tokenizer.json`, 'utf8'));
  expect(draft).toBe(main);
});
