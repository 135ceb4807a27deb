import { describe, expect, it } from 'vitest';
import { hashBlockTokens, hashString } from './block-hash.js';

describe('hashBlockTokens', () => {
  const tokens = [5, 17, 99, 1024, 128000, 3, 0, 7];

  it('is deterministic and a non-negative integer below 2^53', () => {
    const h = hashBlockTokens(12345, tokens, 0, 8, 42);
    expect(hashBlockTokens(12345, tokens, 0, 8, 42)).toBe(h);
    expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
  });

  it('depends on the parent (both halves), the extra keys, every token and its position', () => {
    const base = hashBlockTokens(2 ** 40 + 7, tokens, 0, 8, 1);
    const variants = [
      hashBlockTokens(2 ** 40 + 8, tokens, 0, 8, 1),
      hashBlockTokens(2 ** 41 + 7, tokens, 0, 8, 1),
      hashBlockTokens(2 ** 40 + 7, tokens, 0, 8, 2),
      hashBlockTokens(2 ** 40 + 7, [17, 5, ...tokens.slice(2)], 0, 8, 1),
      hashBlockTokens(2 ** 40 + 7, tokens, 0, 7, 1),
      ...tokens.map((_, i) => hashBlockTokens(2 ** 40 + 7, tokens.map((t, j) => (i === j ? t + 1 : t)), 0, 8, 1)),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('hashes a slice like the same tokens on their own', () => {
    expect(hashBlockTokens(9, [1, 2, ...tokens, 3], 2, 10, 0)).toBe(hashBlockTokens(9, tokens, 0, 8, 0));
  });

  it('spreads: no collisions over 200k similar blocks, and both halves of the 53 bits vary', () => {
    const seen = new Set<number>();
    let high = 0;
    for (let i = 0; i < 200_000; i++) {
      const h = hashBlockTokens(i % 7, [i % 1000, Math.floor(i / 1000), 1, 1], 0, 4, 0);
      seen.add(h);
      if (h >= 2 ** 52) high++;
    }
    expect(seen.size).toBe(200_000);
    expect(high / 200_000).toBeGreaterThan(0.45); // the top bit is set about half the time
    expect(high / 200_000).toBeLessThan(0.55);
  });
});

describe('hashString', () => {
  it('tells apart strings that differ in one character or in length', () => {
    const strings = ['', 'a', 'b', 'ab', 'ba', '["salt",null]', '[null,"salt"]', '["salt","lora"]'];
    expect(new Set(strings.map(hashString)).size).toBe(strings.length);
    for (const s of strings) expect(hashString(s)).toBe(hashString(s));
  });
});
