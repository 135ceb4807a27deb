import { HfTokenizer } from '@ignis/engine';
import { fixturePath } from '@ignis/models/testing';
import { describe, expect, it } from 'vitest';
import { summarize } from '../stats.js';
import { parseJsonl, toJsonl } from './format.js';
import { drawLength } from './lengths.js';
import { shareGptRequests } from './sharegpt.js';
import { syntheticRequests } from './synthetic.js';

const ids = (prompt: string | readonly number[]): readonly number[] => prompt as readonly number[];

describe('datasets', () => {
  it('draws lengths from fixed, normal and uniform distributions', () => {
    let state = 1;
    const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
    const normal = Array.from({ length: 4000 }, () => drawLength({ kind: 'normal', mean: 200, std: 20 }, random));
    const s = summarize(normal);
    expect(s.mean).toBeGreaterThan(197);
    expect(s.mean).toBeLessThan(203);
    expect(s.p90 - s.p50).toBeGreaterThan(20); // 1.28 std
    expect(s.p90 - s.p50).toBeLessThan(32);
    const uniform = Array.from({ length: 2000 }, () => drawLength({ kind: 'uniform', min: 5, max: 9 }, random));
    expect(new Set(uniform)).toEqual(new Set([5, 6, 7, 8, 9]));
    expect(drawLength({ kind: 'fixed', value: 7 }, random)).toBe(7);
  });

  it('makes the same requests from the same seed, with shared prefixes, and round-trips JSONL', async () => {
    const options = {
      numRequests: 12,
      input: { kind: 'uniform', min: 3, max: 10 },
      output: { kind: 'normal', mean: 20, std: 5 },
      vocabSize: 1000,
      seed: 7,
      prefix: { groups: 3, length: 16 },
    } as const;
    const a = await syntheticRequests(options);
    expect(await syntheticRequests(options)).toEqual(a);
    expect(await syntheticRequests({ ...options, seed: 8 })).not.toEqual(a);
    const prefixes = new Map<string, number>();
    for (const r of a) {
      const key = ids(r.prompt).slice(0, 16).join(',');
      prefixes.set(key, (prefixes.get(key) ?? 0) + 1);
      expect(r.inputLen).toBe(ids(r.prompt).length);
      expect(r.inputLen - 16).toBeGreaterThanOrEqual(3);
      expect(r.inputLen - 16).toBeLessThanOrEqual(10);
      expect(ids(r.prompt).every((t) => t >= 1 && t < 1000)).toBe(true);
    }
    expect([...prefixes.values()]).toEqual([4, 4, 4]); // 3 prefixes x 4 suffixes
    expect(parseJsonl(toJsonl(a), 'test')).toEqual(a);
    expect(() => parseJsonl('{"task_id": 0, "output_tokens": 3}\n', 'bad.jsonl')).toThrow(/bad.jsonl:1: needs input_ids/);
  });

  it('makes text prompts with the tokenizer, and converts ShareGPT conversations', async () => {
    const tokenizer = await HfTokenizer.load(fixturePath('llama3-gqa-sharded'));
    const codec = { encode: (t: string) => tokenizer.encode(t), decode: (i: readonly number[]) => tokenizer.decode(i) };
    const text = await syntheticRequests({ numRequests: 5, input: { kind: 'fixed', value: 20 }, output: { kind: 'fixed', value: 4 }, vocabSize: 320, seed: 1, text: codec });
    for (const r of text) {
      expect(typeof r.prompt).toBe('string');
      expect(r.inputLen).toBe((await tokenizer.encode(r.prompt as string)).length);
    }
    const word = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
    const sharegpt = [
      { conversations: [{ from: 'human', value: word(10) }, { from: 'gpt', value: word(12) }] },
      { conversations: [{ from: 'system', value: 'be nice' }, { from: 'human', value: word(8) }, { from: 'gpt', value: word(9) }] },
      { conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: word(9) }] }, // prompt too short
      { conversations: [{ from: 'human', value: word(10) }] }, // no answer
      { conversations: [{ from: 'human', value: word(400) }, { from: 'gpt', value: word(10) }] }, // too long
    ];
    const requests = await shareGptRequests(sharegpt, codec, { seed: 0, maxInputLen: 1024, maxTotalLen: 2048 });
    expect(requests).toHaveLength(2);
    expect(new Set(requests.map((r) => r.prompt))).toEqual(new Set([word(10), word(8)]));
    for (const r of requests) expect(r.inputLen).toBe((await tokenizer.encode(r.prompt as string)).length);
    const fixed = await shareGptRequests(sharegpt, codec, { seed: 0, outputLen: 5, numRequests: 1, maxInputLen: 1024, maxTotalLen: 2048 });
    expect(fixed).toMatchObject([{ id: 0, outputLen: 5 }]);
  });
});
