import type { SamplingParams } from '@ignis/engine';
import { readReference } from '@ignis/models/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, type TestServer, startServer } from './testing/harness.js';

/**
 * The server through the official `openai` client: every output must be what the engine gives
 * for the same prompt ids and parameters.
 */
const reference = readReference(MODEL);
const ids = reference.prompts[1]!.ids;
const TEXT = 'The quick brown fox';
/** A sampled setting that exercises every parameter the engine takes. */
const SAMPLED = { temperature: 0.8, top_p: 0.9, top_k: 40, min_p: 0.02, presence_penalty: 0.4, frequency_penalty: 0.3, repetition_penalty: 1.1, seed: 7 };
const SAMPLED_ENGINE: Partial<SamplingParams> = { temperature: 0.8, topP: 0.9, topK: 40, minP: 0.02, presencePenalty: 0.4, frequencyPenalty: 0.3, repetitionPenalty: 1.1, seed: 7 };
/** vLLM's extra fields; spread into a request so the client's types let them through. */
const IGNORE_EOS = { ignore_eos: true };

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const encode = (text: string) => server.llm.tokenizer!.encode(text);
/** A token's text as logprobs show it: decoded alone, special tokens kept. */
const tokenText = (id: number) => server.llm.tokenizer!.decode([id], { skipSpecialTokens: false });
const chatIds = async (content: string) =>
  server.llm.tokenizer!.encode(server.llm.tokenizer!.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true }), { addSpecialTokens: false });

describe('/v1/completions', () => {
  it('text prompt, sampled with every parameter: the engine text, usage, finish reason', async () => {
    const response = await server.client.completions.create({ model: MODEL, prompt: TEXT, max_tokens: 20, ...SAMPLED, ...IGNORE_EOS });
    const engine = await server.llm.generate(await encode(TEXT), { ...SAMPLED_ENGINE, maxTokens: 20, ignoreEos: true });
    expect(response.object).toBe('text_completion');
    expect(response.model).toBe(MODEL);
    expect(response.choices).toEqual([{ index: 0, text: engine.text, logprobs: null, finish_reason: 'length' }]);
    expect(response.usage).toEqual({ prompt_tokens: engine.promptTokenIds.length, completion_tokens: 20, total_tokens: engine.promptTokenIds.length + 20 });
  });

  it('streamed: the deltas add up to the engine text; the last has the finish reason; usage comes last', async () => {
    const stream = await server.client.completions.create({
      model: MODEL, prompt: ids, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true }, ...IGNORE_EOS,
    }); // prettier-ignore
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const engine = await server.llm.generate(ids, { temperature: 0, maxTokens: 24, ignoreEos: true });
    expect(engine.tokenIds).toEqual(reference.prompts[1]!.greedy); // transformers' greedy tokens, to be sure
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual({ prompt_tokens: ids.length, completion_tokens: 24, total_tokens: ids.length + 24 });
    const deltas = chunks.slice(0, -1);
    expect(deltas.map((c) => c.choices[0]!.text).join('')).toBe(engine.text);
    expect(deltas.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(deltas.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null && c.usage === null)).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('a list of prompts (text and token ids) with n = 2: choices ordered prompt by prompt, each the engine output', async () => {
    const params = { temperature: 1, seed: 3, max_tokens: 8, n: 2, ...IGNORE_EOS };
    const engineParams = { temperature: 1, seed: 3, maxTokens: 8, n: 2, ignoreEos: true };
    const texts = await server.client.completions.create({ model: MODEL, prompt: ['Hello', 'World wide'], ...params });
    const tokens = await server.client.completions.create({ model: MODEL, prompt: [ids, [5, 6, 7]], ...params });
    for (const [response, prompts] of [
      [texts, [await encode('Hello'), await encode('World wide')]],
      [tokens, [ids, [5, 6, 7]]],
    ] as const) {
      const expected = [];
      for (const prompt of prompts) for (const output of (await server.llm.generate(prompt, engineParams)).outputs) expected.push(output.text);
      expect(response.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
      expect(response.choices.map((c) => c.text)).toEqual(expected);
      expect(response.usage!.completion_tokens).toBe(4 * 8);
    }
    expect(new Set(texts.choices.map((c) => c.text)).size).toBe(4); // seeded siblings differ
  });

  it('n = 3 streamed: each choice index gathers its own completion', async () => {
    const stream = await server.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 10, seed: 9, n: 3, stream: true, ...IGNORE_EOS });
    const texts = ['', '', ''];
    const finish: (string | null)[] = [null, null, null];
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.text;
        finish[choice.index] ??= choice.finish_reason;
      }
    }
    const engine = await server.llm.generate(ids, { maxTokens: 10, seed: 9, n: 3, ignoreEos: true });
    expect(texts).toEqual(engine.outputs.map((o) => o.text));
    expect(finish).toEqual(['length', 'length', 'length']);
  });

  it('same seed, same output; another seed, another output', async () => {
    const run = (seed: number) => server.client.completions.create({ model: MODEL, prompt: TEXT, max_tokens: 16, temperature: 1, seed, ...IGNORE_EOS });
    const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.choices[0]!.text).not.toBe(c.choices[0]!.text);
  });

  it('stop strings end the text before them, with finish reason stop, as the engine does', async () => {
    const greedy = await server.llm.generate(ids, { temperature: 0, maxTokens: 24, ignoreEos: true });
    const stop = greedy.text.slice(6, 8); // a string the greedy text is sure to contain
    for (const stopField of [stop, ['zzzz', stop]]) {
      const response = await server.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 24, temperature: 0, stop: stopField, ...IGNORE_EOS });
      const engine = await server.llm.generate(ids, { temperature: 0, maxTokens: 24, ignoreEos: true, stop: [stop] });
      expect(response.choices[0]).toMatchObject({ text: engine.text, finish_reason: 'stop' });
      expect(engine.text.length).toBeLessThan(greedy.text.length);
    }
  });

  it('logprobs: N: the sampled tokens, their log-probabilities, the N most likely at each position, text offsets', async () => {
    const response = await server.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 12, logprobs: 3, ...SAMPLED, ...IGNORE_EOS });
    const engine = await server.llm.generate(ids, { ...SAMPLED_ENGINE, maxTokens: 12, ignoreEos: true, topLogprobs: 3 });
    const logprobs = response.choices[0]!.logprobs!;
    expect(logprobs.token_logprobs).toEqual(engine.logprobs);
    const tokens = await Promise.all(engine.tokenIds.map((id) => tokenText(id)));
    expect(logprobs.tokens).toEqual(tokens);
    expect(logprobs.text_offset).toEqual(tokens.map((_, i) => tokens.slice(0, i).join('').length));
    // Each position: the 3 most likely tokens, then the sampled one when it is not among them (vLLM's dict).
    for (const [i, top] of engine.topLogprobs!.entries()) {
      const expected: Record<string, number> = {};
      for (const t of top) expected[await tokenText(t.tokenId)] ??= t.logprob;
      expected[tokens[i]!] ??= engine.logprobs[i]!;
      expect(logprobs.top_logprobs![i]).toEqual(expected);
    }
    expect(Object.keys(logprobs.top_logprobs![0]!).length).toBeGreaterThanOrEqual(3);
  });

  it('logprobs: 0 gives the sampled tokens alone', async () => {
    const response = await server.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 5, temperature: 0, logprobs: 0, ...IGNORE_EOS });
    const engine = await server.llm.generate(ids, { temperature: 0, maxTokens: 5, ignoreEos: true });
    const tokens = await Promise.all(engine.tokenIds.map((id) => tokenText(id)));
    expect(response.choices[0]!.logprobs!.top_logprobs).toEqual(tokens.map((t, i) => ({ [t]: engine.logprobs[i] })));
  });

  it('streamed logprobs: chunk by chunk, offsets continuing', async () => {
    const stream = await server.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 12, temperature: 0, logprobs: 2, stream: true, ...IGNORE_EOS });
    const lps: number[] = [];
    const offsets: number[] = [];
    const tops: Record<string, number>[] = [];
    for await (const chunk of stream) {
      lps.push(...chunk.choices[0]!.logprobs!.token_logprobs!);
      offsets.push(...chunk.choices[0]!.logprobs!.text_offset!);
      tops.push(...chunk.choices[0]!.logprobs!.top_logprobs!);
    }
    const engine = await server.llm.generate(ids, { temperature: 0, maxTokens: 12, ignoreEos: true, topLogprobs: 2 });
    expect(lps).toEqual(engine.logprobs);
    expect(offsets).toHaveLength(12);
    expect(offsets.every((o, i) => i === 0 || o >= offsets[i - 1]!)).toBe(true);
    // Greedy: the sampled token is the most likely one, so each position holds the 2 alternatives (fewer if their texts coincide).
    for (const [i, top] of engine.topLogprobs!.entries()) expect(Object.values(tops[i]!)[0]).toBe(top[0]!.logprob);
  });

  it('echo puts the prompt before the completion, whole and streamed', async () => {
    const whole = await server.client.completions.create({ model: MODEL, prompt: TEXT, max_tokens: 6, temperature: 0, echo: true, ...IGNORE_EOS });
    const engine = await server.llm.generate(await encode(TEXT), { temperature: 0, maxTokens: 6, ignoreEos: true });
    expect(whole.choices[0]!.text).toBe(TEXT + engine.text);
    const stream = await server.client.completions.create({ model: MODEL, prompt: TEXT, max_tokens: 6, temperature: 0, echo: true, stream: true, ...IGNORE_EOS });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]!.text;
    expect(text).toBe(TEXT + engine.text);
  });
});

describe('/v1/chat/completions', () => {
  const messages = [{ role: 'user' as const, content: 'Tell me a story' }];

  it('the reply is the engine output for the chat template rendering', async () => {
    const response = await server.client.chat.completions.create({ model: MODEL, messages, max_tokens: 20, ...SAMPLED, ...IGNORE_EOS });
    const prompt = await chatIds('Tell me a story');
    const engine = await server.llm.generate(prompt, { ...SAMPLED_ENGINE, maxTokens: 20, ignoreEos: true });
    expect(response.object).toBe('chat.completion');
    expect(response.choices).toEqual([{ index: 0, message: { role: 'assistant', content: engine.text }, logprobs: null, finish_reason: 'length' }]);
    expect(response.usage).toEqual({ prompt_tokens: prompt.length, completion_tokens: 20, total_tokens: prompt.length + 20 });
  });

  it('max_completion_tokens, content as text parts, and a system message', async () => {
    const response = await server.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Tell me ' }, { type: 'text', text: 'a story' }] }],
      max_completion_tokens: 7, temperature: 0, ...IGNORE_EOS,
    }); // prettier-ignore
    const tokenizer = server.llm.tokenizer!;
    const rendered = tokenizer.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, ...messages], { addGenerationPrompt: true });
    const engine = await server.llm.generate(await tokenizer.encode(rendered, { addSpecialTokens: false }), { temperature: 0, maxTokens: 7, ignoreEos: true });
    expect(response.choices[0]!.message.content).toBe(engine.text);
    expect(response.usage!.completion_tokens).toBe(7);
  });

  it('streamed with n = 2 and usage: a role chunk per choice, then the engine texts', async () => {
    const stream = await server.client.chat.completions.create({
      model: MODEL, messages, max_tokens: 12, seed: 4, n: 2, stream: true, stream_options: { include_usage: true }, ...IGNORE_EOS,
    }); // prettier-ignore
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const engine = await server.llm.generate(await chatIds('Tell me a story'), { maxTokens: 12, seed: 4, n: 2, ignoreEos: true });
    expect(chunks.slice(0, 2).map((c) => c.choices[0])).toEqual([0, 1].map((index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })));
    const texts = ['', ''];
    for (const chunk of chunks) for (const choice of chunk.choices) texts[choice.index] += choice.delta.content ?? '';
    expect(texts).toEqual(engine.outputs.map((o) => o.text));
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'length')).toHaveLength(2);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: engine.promptTokenIds.length, completion_tokens: 24, total_tokens: engine.promptTokenIds.length + 24 });
    expect(chunks.at(-1)!.choices).toEqual([]);
  });

  it('logprobs: true with top_logprobs: N gives each token, its log-probability and bytes, and the N most likely', async () => {
    const response = await server.client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, logprobs: true, top_logprobs: 4, ...SAMPLED, ...IGNORE_EOS });
    const engine = await server.llm.generate(await chatIds('Tell me a story'), { ...SAMPLED_ENGINE, maxTokens: 8, ignoreEos: true, topLogprobs: 4 });
    const content = response.choices[0]!.logprobs!.content!;
    expect(content.map((c) => c.logprob)).toEqual(engine.logprobs);
    const bytes = (text: string) => [...new TextEncoder().encode(text)];
    for (const [i, entry] of content.entries()) {
      const token = await tokenText(engine.tokenIds[i]!);
      expect({ token: entry.token, bytes: entry.bytes }).toEqual({ token, bytes: bytes(token) });
      const top = await Promise.all(engine.topLogprobs![i]!.map(async (t) => ({ token: await tokenText(t.tokenId), logprob: t.logprob, bytes: bytes(await tokenText(t.tokenId)) })));
      expect(entry.top_logprobs).toEqual(top);
      expect(top).toHaveLength(4);
    }
  });

  it('streamed logprobs: true without top_logprobs: no alternatives', async () => {
    const stream = await server.client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, logprobs: true, temperature: 0, stream: true, ...IGNORE_EOS });
    const content = [];
    for await (const chunk of stream) content.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    const engine = await server.llm.generate(await chatIds('Tell me a story'), { temperature: 0, maxTokens: 6, ignoreEos: true });
    expect(content.map((c) => c.logprob)).toEqual(engine.logprobs);
    expect(content.every((c) => c.top_logprobs.length === 0)).toBe(true);
  });

  it('a stop string ends the reply with finish reason stop', async () => {
    const greedy = await server.llm.generate(await chatIds('Tell me a story'), { temperature: 0, maxTokens: 24, ignoreEos: true });
    const stop = greedy.text.slice(4, 6);
    const response = await server.client.chat.completions.create({ model: MODEL, messages, max_tokens: 24, temperature: 0, stop, ...IGNORE_EOS });
    expect(response.choices[0]).toMatchObject({ message: { content: greedy.text.slice(0, greedy.text.indexOf(stop)) }, finish_reason: 'stop' });
  });
});

describe('models, tokenize, detokenize', () => {
  it('GET /v1/models lists the served model and what it runs in', async () => {
    const models = await server.client.models.list();
    expect(models.data).toEqual([
      expect.objectContaining({ id: MODEL, object: 'model', owned_by: 'ignis', max_model_len: 512, dtype: 'f32', quantization: 'none', kv_cache_dtype: 'f32' }),
    ]);
  });

  it('tokenize and detokenize round-trip, as vLLM shapes them', async () => {
    const tokenized = await server.post('/tokenize', { model: MODEL, prompt: TEXT });
    const tokens = await encode(TEXT);
    expect(tokenized).toMatchObject({ status: 200, body: { tokens, count: tokens.length, max_model_len: 512 } });
    const chat = await server.post('/tokenize', { model: MODEL, messages: [{ role: 'user', content: 'Tell me a story' }] });
    expect(chat.body).toMatchObject({ tokens: await chatIds('Tell me a story') });
    const detokenized = await server.post('/detokenize', { model: MODEL, tokens });
    expect(detokenized).toMatchObject({ status: 200, body: { prompt: await server.llm.tokenizer!.decode(tokens, { skipSpecialTokens: false }) } });
    expect((detokenized.body as { prompt: string }).prompt).toContain(TEXT);
  });
});
