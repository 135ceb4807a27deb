import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_LEVEL_DIR, SENTENCEPIECE_DIR, fixtureCopy, removeFixtureCopies } from './testdata/fixtures.js';
import { HfTokenizer, TokenizerError, loadTokenizer } from './tokenizer.js';

afterAll(removeFixtureCopies);

const ROUND_TRIP_TEXTS = [
  'Hello world',
  'The quick brown fox jumps over the lazy dog.',
  'café, é!',
  '日本語',
  'I feel 🙂 today',
  '  two leading spaces and a\nnew line',
  'mixed é 日本語 🙂🙂 end',
];

describe.each([
  ['byte-level BPE', BYTE_LEVEL_DIR],
  ['SentencePiece BPE', SENTENCEPIECE_DIR],
])('%s round trip', (_name, dir) => {
  it.each(ROUND_TRIP_TEXTS)('decode(encode(%j)) gives the text back', async (text) => {
    const tokenizer = await HfTokenizer.load(dir);
    expect(await tokenizer.decode(await tokenizer.encode(text))).toBe(text);
    expect(await tokenizer.decode(await tokenizer.encode(text, { addSpecialTokens: false }))).toBe(text);
  });
});

describe('byte-level BPE ids', () => {
  // Byte tokens have id = byte value; merges get 256.. in order (ll=256, ell=257, Hell=258,
  // Hello=259, Ġw=260, or=261, Ġwor=262, ld=263, Ġworld=264, F0 9F=265, é=266); specials follow
  // from 267: <|begin_of_text|>, <|end_of_text|>, <|start_header_id|>, <|end_header_id|>, <|eot_id|>.
  it('matches hand-computed ids', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    // "Hello" merges l+l, e+ll, H+ell, Hell+o; " world" merges Ġ+w, o+r, Ġw+or, l+d, Ġwor+ld.
    expect(await tokenizer.encode('Hello world')).toEqual([267, 259, 264]);
    expect(await tokenizer.encode('Hello world', { addSpecialTokens: false })).toEqual([259, 264]);
    // 日 = E6 97 A5, no merges.
    expect(await tokenizer.encode('日', { addSpecialTokens: false })).toEqual([0xe6, 0x97, 0xa5]);
    // 🙂 = F0 9F 99 82: the first two bytes merge into a token that ends inside the character.
    expect(await tokenizer.encode('🙂', { addSpecialTokens: false })).toEqual([265, 0x99, 0x82]);
    expect(await tokenizer.encode('é', { addSpecialTokens: false })).toEqual([266]);
  });

  it('reports vocabulary size and special tokens', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    expect(tokenizer.vocabSize).toBe(272);
    expect(tokenizer.bosTokenId).toBe(267);
    expect(tokenizer.eosTokenIds).toEqual([268]);
    expect(tokenizer.isSpecial(267)).toBe(true);
    expect(tokenizer.isSpecial(271)).toBe(true);
    expect(tokenizer.isSpecial(259)).toBe(false);
    expect(tokenizer.isSpecial(0x41)).toBe(false);
  });

  it('skips special tokens when decoding unless asked not to', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    const ids = [267, 259, 264, 268];
    expect(await tokenizer.decode(ids)).toBe('Hello world');
    expect(await tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('Hello world');
    expect(await tokenizer.decode(ids, { skipSpecialTokens: false })).toBe('<|begin_of_text|>Hello world<|end_of_text|>');
  });
});

describe('SentencePiece BPE ids', () => {
  // <unk>=0 <s>=1 </s>=2, <0x00>..<0xFF> = 3..258, then ▁=259, a..z=260..285, A..Z=286..311, é=312,
  // punctuation 313..317, then merges from 318: ll, ▁H, ▁He, ▁Hell, ▁Hello=322, ▁w, or, ▁wor, ld, ▁world=327.
  it('matches hand-computed ids', async () => {
    const tokenizer = await HfTokenizer.load(SENTENCEPIECE_DIR);
    // The normalizer turns the text into "▁Hello▁world".
    expect(await tokenizer.encode('Hello world')).toEqual([1, 322, 327]);
    // 日 is not in the vocabulary: ▁ then byte fallback <0xE6> <0x97> <0xA5> = 3 + byte.
    expect(await tokenizer.encode('日', { addSpecialTokens: false })).toEqual([259, 3 + 0xe6, 3 + 0x97, 3 + 0xa5]);
    expect(await tokenizer.encode('é', { addSpecialTokens: false })).toEqual([259, 312]);
  });

  it('reads special tokens written as objects and generation_config ids', async () => {
    const tokenizer = await HfTokenizer.load(SENTENCEPIECE_DIR);
    expect(tokenizer.vocabSize).toBe(328);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenIds).toEqual([2]);
    expect([0, 1, 2].map((id) => tokenizer.isSpecial(id))).toEqual([true, true, true]);
    expect(tokenizer.isSpecial(322)).toBe(false);
  });

  it('skips special tokens when decoding unless asked not to', async () => {
    const tokenizer = await HfTokenizer.load(SENTENCEPIECE_DIR);
    expect(await tokenizer.decode([1, 322, 327, 2])).toBe('Hello world');
    expect(await tokenizer.decode([1, 322, 327, 2], { skipSpecialTokens: false })).toBe('<s> Hello world</s>');
  });
});

describe('eos and bos ids from config files', () => {
  it('adds a single generation_config eos_token_id after the tokenizer_config one', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'generation_config.json': '{"eos_token_id": 271}' });
    expect((await HfTokenizer.load(dir)).eosTokenIds).toEqual([268, 271]);
  });

  it('merges a generation_config eos_token_id list without duplicates', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'generation_config.json': '{"eos_token_id": [271, 268]}' });
    expect((await HfTokenizer.load(dir)).eosTokenIds).toEqual([268, 271]);
  });

  it('uses generation_config alone when tokenizer_config.json is absent', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, {
      'tokenizer_config.json': null,
      'generation_config.json': '{"bos_token_id": 267, "eos_token_id": [268, 271]}',
    });
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.bosTokenId).toBe(267);
    expect(tokenizer.eosTokenIds).toEqual([268, 271]);
    // Special even without tokenizer_config.json: tokenizer.json marks its added tokens.
    expect(tokenizer.isSpecial(269)).toBe(true);
  });

  it('has no bos or eos ids when no file names them', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer_config.json': null });
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.bosTokenId).toBeUndefined();
    expect(tokenizer.eosTokenIds).toEqual([]);
  });

  it('rejects an eos_token_id that is not a token id', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'generation_config.json': '{"eos_token_id": "x"}' });
    await expect(HfTokenizer.load(dir)).rejects.toThrow(/generation_config\.json: eos_token_id/);
  });
});

describe('loading errors', () => {
  it('names tokenizer.json when it is not JSON', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer.json': '{"version": "1.0",' });
    const error = await HfTokenizer.load(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toContain(join(dir, 'tokenizer.json'));
    expect((error as Error).message).toMatch(/malformed JSON/);
  });

  it('names tokenizer.json when the tokenizers package rejects it', async () => {
    const original = JSON.parse(await readFile(join(BYTE_LEVEL_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const broken = { ...original, model: { type: 'NoSuchModel' } };
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer.json': JSON.stringify(broken) });
    const error = await HfTokenizer.load(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as Error).message).toContain(`tokenizers rejected ${join(dir, 'tokenizer.json')}`);
  });

  it('names tokenizer_config.json when it is not JSON', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer_config.json': 'not json' });
    await expect(HfTokenizer.load(dir)).rejects.toThrow(join(dir, 'tokenizer_config.json'));
  });

  it('names generation_config.json when it is not JSON', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'generation_config.json': '[1,' });
    await expect(HfTokenizer.load(dir)).rejects.toThrow(join(dir, 'generation_config.json'));
  });

  it('loadTokenizer returns undefined without tokenizer.json, HfTokenizer.load throws', async () => {
    const dir = await fixtureCopy(BYTE_LEVEL_DIR, { 'tokenizer.json': null });
    expect(await loadTokenizer(dir)).toBeUndefined();
    expect(await loadTokenizer(join(dir, 'no-such-dir'))).toBeUndefined();
    await expect(HfTokenizer.load(dir)).rejects.toThrow(TokenizerError);
  });

  it('loadTokenizer loads a tokenizer that is there', async () => {
    const tokenizer = await loadTokenizer(SENTENCEPIECE_DIR);
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
  });
});

describe('longestTokenChars', () => {
  // Byte-level: the longest entry is <|start_header_id|> (19); SentencePiece: <0x..> and ▁Hello (6).
  it.each([
    ['byte-level BPE', BYTE_LEVEL_DIR, 19, '<|start_header_id|>'],
    ['SentencePiece BPE', SENTENCEPIECE_DIR, 6, '▁Hello'],
  ])('%s: the longest vocabulary entry; no text encodes to fewer than its length / longestTokenChars tokens', async (_name, dir, longest, entry) => {
    const tokenizer = await HfTokenizer.load(dir);
    expect(tokenizer.longestTokenChars).toBe(longest);
    const texts = [...ROUND_TRIP_TEXTS, entry.repeat(50), 'Hello world '.repeat(40), '🙂'.repeat(30)];
    for (const text of texts) {
      const ids = await tokenizer.encode(text, { addSpecialTokens: false });
      expect({ text, atLeastTheBound: ids.length >= Math.ceil(text.length / longest) }).toEqual({ text, atLeastTheBound: true });
    }
  });

  it('is tight: a text of the longest added token repeated encodes to one token per repetition', async () => {
    const tokenizer = await HfTokenizer.load(BYTE_LEVEL_DIR);
    const text = '<|start_header_id|>'.repeat(20);
    expect(await tokenizer.encode(text, { addSpecialTokens: false })).toHaveLength(text.length / tokenizer.longestTokenChars);
  });
});
