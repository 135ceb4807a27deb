import { describe, expect, it } from 'vitest';
import { mulhi32, philox4x32 } from './philox.js';
import { seededRandom } from './random.js';

describe('philox4x32 (Philox4x32-10)', () => {
  // Random123's known-answer vectors (tests/kat_vectors of github.com/DEShawResearch/random123,
  // the three "philox4x32 10" lines): counter (4 words), key (2 words), expected output (4 words).
  const KAT: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];

  it.each(KAT)('gives Random123 known answers: counter %j, key %j', (counter, key, want) => {
    const [c0, c1, c2, c3] = counter as [number, number, number, number];
    const [k0, k1] = key as [number, number];
    expect(philox4x32(c0, c1, c2, c3, k0, k1)).toEqual(want);
  });
});

describe('mulhi32', () => {
  const exact = (a: number, b: number): number => Number((BigInt(a) * BigInt(b)) >> 32n);

  it('is the high word of the exact 64-bit product, carries and extremes included', () => {
    const edges = [0, 1, 2, 0xffff, 0x10000, 0x1ffff, 0x7fffffff, 0x80000000, 0xfffeffff, 0xffff0000, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    for (const a of edges) for (const b of edges) expect(mulhi32(a, b)).toBe(exact(a, b));
    const random = seededRandom(3);
    for (let i = 0; i < 20_000; i++) {
      const a = Math.floor(random() * 2 ** 32);
      const b = Math.floor(random() * 2 ** 32);
      expect(mulhi32(a, b)).toBe(exact(a, b));
    }
  });
});
