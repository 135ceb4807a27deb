import { fmix32 } from '@ignis/tensor';
/**
 * The chain hash of one full block: `H(parent hash, tokens[start..end), extra)`, a non-negative
 * integer below 2^53. `parent` is the previous block's hash (or the root), `extra` a 32-bit hash
 * of the request's extra keys (cache salt, adapter).
 */
export type BlockHashFn = (parent: number, tokens: readonly number[], start: number, end: number, extra: number) => number;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const C3 = 0x38b34ae5;
const TWO_32 = 4294967296;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * The default {@link BlockHashFn}: two 32-bit MurmurHash3 lanes over the words
 * (parent low, parent high, extra, tokens...), crossed and finalized as MurmurHash3 x86_128 does,
 * giving 21 + 32 = 53 bits. A hash is never trusted on its own (a hit compares the tokens and the
 * parent), so it only has to be fast and spread well; a cryptographic hash per block would cost
 * more than the rest of the scheduler step.
 */
export function hashBlockTokens(parent: number, tokens: readonly number[], start: number, end: number, extra: number): number {
  let h1 = 0x3c6ef372;
  let h2 = 0xa54ff53a;
  const numWords = end - start + 3;
  for (let i = 0; i < numWords; i++) {
    const word = i >= 3 ? tokens[start + i - 3]! : i === 0 ? parent >>> 0 : i === 1 ? Math.floor(parent / TWO_32) : extra;
    let k1 = Math.imul(word, C1);
    k1 = Math.imul(rotl(k1, 15), C2);
    h1 = rotl(h1 ^ k1, 19);
    h1 = (Math.imul((h1 + h2) | 0, 5) + 0x561ccd1b) | 0;
    let k2 = Math.imul(word, C2);
    k2 = Math.imul(rotl(k2, 16), C3);
    h2 = rotl(h2 ^ k2, 17);
    h2 = (Math.imul((h2 + h1) | 0, 5) + 0x0bcaa747) | 0;
  }
  h1 ^= numWords;
  h2 ^= numWords;
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  return (h1 >>> 11) * TWO_32 + h2;
}

/** A 32-bit MurmurHash3-style hash of a string's UTF-16 code units (for the extra keys). */
export function hashString(text: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const k = Math.imul(rotl(Math.imul(text.charCodeAt(i), C1), 15), C2);
    h = (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  return fmix32(h ^ text.length);
}
