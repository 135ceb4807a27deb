import { beforeAll, describe, expect, it } from 'vitest';
import { IncrementalDetokenizer } from './detokenizer.js';
import { BYTE_LEVEL_DIR, SENTENCEPIECE_DIR } from './testdata/fixtures.js';
import { HfTokenizer, TokenizerError } from './tokenizer.js';

const REPLACEMENT = '\uFFFD';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so failures reproduce. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Streamed {
  chunks: string[];
  flushed: string;
  detokenizer: IncrementalDetokenizer;
}

/** Streams `generated` after `prompt`, `sizes` ids per push (cycling; default one at a time). */
async function stream(
  tokenizer: HfTokenizer,
  prompt: readonly number[],
  generated: readonly number[],
  options: { sizes?: readonly number[]; skipSpecialTokens?: boolean } = {},
): Promise<Streamed> {
  const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, { skipSpecialTokens: options.skipSpecialTokens });
  const sizes = options.sizes ?? [1];
  const chunks: string[] = [];
  for (let at = 0, step = 0; at < generated.length; step++) {
    const size = sizes[step % sizes.length]!;
    chunks.push(await detokenizer.push(generated.slice(at, at + size)));
    at += size;
  }
  return { chunks, flushed: await detokenizer.flush(), detokenizer };
}

/** decode(prompt + generated) minus decode(prompt): the text a stream must add up to. */
async function textInContext(
  tokenizer: HfTokenizer,
  prompt: readonly number[],
  generated: readonly number[],
  skipSpecialTokens = true,
): Promise<string> {
  const options = { skipSpecialTokens };
  const full = await tokenizer.decode([...prompt, ...generated], options);
  const head = await tokenizer.decode(prompt, options);
  expect(full.startsWith(head)).toBe(true);
  return full.slice(head.length);
}

async function expectStreamMatches(
  tokenizer: HfTokenizer,
  prompt: readonly number[],
  generated: readonly number[],
  options: { sizes?: readonly number[]; skipSpecialTokens?: boolean } = {},
): Promise<Streamed> {
  const streamed = await stream(tokenizer, prompt, generated, options);
  const expected = await textInContext(tokenizer, prompt, generated, options.skipSpecialTokens ?? true);
  for (const chunk of streamed.chunks) expect(chunk).not.toContain(REPLACEMENT);
  expect(streamed.chunks.join('') + streamed.flushed).toBe(expected);
  expect(streamed.detokenizer.text).toBe(expected);
  return streamed;
}

const TEXT = 'é 🙂 日本語 done';
/** Letters in and out of both vocabularies, spaces, a new line and 2-, 3- and 4-byte characters. */
const ALPHABET = [...'Helo wrdaxZ.,!\n'].concat(['é', '日', '本', '🙂', '🎉', 'ß']);

function randomText(random: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)]!;
  return text;
}

let byteLevel: HfTokenizer;
let sentencePiece: HfTokenizer;
beforeAll(async () => {
  byteLevel = await HfTokenizer.load(BYTE_LEVEL_DIR);
  sentencePiece = await HfTokenizer.load(SENTENCEPIECE_DIR);
});

/**
 * Generated ids for `text` as a continuation of a prompt. Byte-level BPE carries the separating
 * space in the text; SentencePiece's normalizer prepends it.
 */
async function continuation(tokenizer: HfTokenizer, text: string): Promise<number[]> {
  const spaced = tokenizer === byteLevel ? ` ${text}` : text;
  return tokenizer.encode(spaced, { addSpecialTokens: false });
}

describe.each([
  ['byte-level BPE', () => byteLevel],
  ['SentencePiece BPE', () => sentencePiece],
])('IncrementalDetokenizer with %s', (_name, tokenizerOf) => {
  it('streams multi-byte characters split over byte tokens one token at a time', async () => {
    const tokenizer = tokenizerOf();
    const prompt = await tokenizer.encode('Say:');
    const generated = await continuation(tokenizer, TEXT);
    const { chunks } = await expectStreamMatches(tokenizer, prompt, generated);
    expect(chunks.join('')).toBe(` ${TEXT}`);
    // Some pushes had to hold a partial character back.
    expect(chunks.filter((chunk) => chunk === '').length).toBeGreaterThan(0);
  });

  it.each([[[2]], [[3]], [[1, 4]], [[1000]]])('gives the same text when pushing %j ids at a time', async (sizes) => {
    const tokenizer = tokenizerOf();
    const prompt = await tokenizer.encode('Say:');
    const generated = await continuation(tokenizer, TEXT);
    const { chunks } = await expectStreamMatches(tokenizer, prompt, generated, { sizes });
    expect(chunks.join('')).toBe(` ${TEXT}`);
  });

  it('returns a trailing partial character from flush()', async () => {
    const tokenizer = tokenizerOf();
    const prompt = await tokenizer.encode('Say:');
    const generated = (await continuation(tokenizer, 'ok 日')).slice(0, -1);
    const { chunks, flushed } = await expectStreamMatches(tokenizer, prompt, generated);
    expect(chunks.join('')).toBe(' ok ');
    expect(flushed.length).toBeGreaterThan(0);
    expect(flushed.endsWith(REPLACEMENT)).toBe(true);
  });

  it('matches a plain decode with an empty prompt', async () => {
    const tokenizer = tokenizerOf();
    const generated = await tokenizer.encode(TEXT, { addSpecialTokens: false });
    const { chunks, flushed } = await expectStreamMatches(tokenizer, [], generated);
    expect(chunks.join('') + flushed).toBe(TEXT);
  });

  it('keeps or skips special tokens as asked', async () => {
    const tokenizer = tokenizerOf();
    const prompt = await tokenizer.encode('Hello');
    const eos = tokenizer.eosTokenIds[0]!;
    const generated = [...(await continuation(tokenizer, 'world 🙂')), eos];
    const skipped = await expectStreamMatches(tokenizer, prompt, generated);
    const kept = await expectStreamMatches(tokenizer, prompt, generated, { skipSpecialTokens: false });
    const eosText = await tokenizer.decode([eos], { skipSpecialTokens: false });
    expect(skipped.detokenizer.text).toBe(' world 🙂');
    expect(kept.detokenizer.text).toBe(` world 🙂${eosText}`);
  });

  it('adds up to the decode in context for random texts, prompts and push sizes', async () => {
    const tokenizer = tokenizerOf();
    const random = seededRandom(7);
    for (let round = 0; round < 60; round++) {
      const prompt = await tokenizer.encode(randomText(random, Math.floor(random() * 8)));
      const generated = await continuation(tokenizer, randomText(random, 1 + Math.floor(random() * 16)));
      const sizes = [1 + Math.floor(random() * 4), 1 + Math.floor(random() * 4)];
      await expectStreamMatches(tokenizer, prompt, generated, { sizes, skipSpecialTokens: random() < 0.5 });
    }
  });
});

describe('IncrementalDetokenizer with byte-level BPE', () => {
  it('holds back the bytes of 🙂 until its last byte arrives', async () => {
    const detokenizer = new IncrementalDetokenizer(byteLevel, await byteLevel.encode('Hi'));
    // 🙂 = F0 9F 99 82 is tokens [265 (F0 9F), 0x99, 0x82].
    expect(await detokenizer.push([265])).toBe('');
    expect(await detokenizer.push([0x99])).toBe('');
    expect(await detokenizer.push([0x82])).toBe('🙂');
    expect(await detokenizer.flush()).toBe('');
  });

  it('adds up to the decode in context for random token ids, special tokens included', async () => {
    // Byte-level decoding replaces invalid UTF-8 locally, so even arbitrary ids must stream exactly.
    const random = seededRandom(11);
    for (let round = 0; round < 100; round++) {
      const prompt = await byteLevel.encode(randomText(random, Math.floor(random() * 6)));
      const generated = Array.from({ length: 1 + Math.floor(random() * 20) }, () =>
        Math.floor(random() * byteLevel.vocabSize),
      );
      const sizes = [1 + Math.floor(random() * 3)];
      const skipSpecialTokens = random() < 0.5;
      const streamed = await stream(byteLevel, prompt, generated, { sizes, skipSpecialTokens });
      for (const chunk of streamed.chunks) expect(chunk.endsWith(REPLACEMENT)).toBe(false);
      const expected = await textInContext(byteLevel, prompt, generated, skipSpecialTokens);
      expect(streamed.chunks.join('') + streamed.flushed).toBe(expected);
    }
  });
});

describe('IncrementalDetokenizer usage', () => {
  it('runs pushes in order even when they are not awaited one by one', async () => {
    const prompt = await byteLevel.encode('Say:');
    const generated = await continuation(byteLevel, TEXT);
    const detokenizer = new IncrementalDetokenizer(byteLevel, prompt);
    const chunks = await Promise.all(generated.map((id) => detokenizer.push([id])));
    expect(chunks.join('') + (await detokenizer.flush())).toBe(` ${TEXT}`);
  });

  it('refuses push() after flush()', async () => {
    const detokenizer = new IncrementalDetokenizer(byteLevel, []);
    await detokenizer.push([0x41]);
    expect(await detokenizer.flush()).toBe('');
    expect(await detokenizer.flush()).toBe('');
    await expect(detokenizer.push([0x42])).rejects.toThrow(TokenizerError);
    expect(detokenizer.text).toBe('A');
  });
});
