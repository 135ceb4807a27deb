/**
 * Philox4x32-10, the counter-based generator of Salmon et al., "Parallel Random Numbers: As Easy
 * as 1, 2, 3" (SC11; the Random123 library, also behind cuRAND's and PyTorch's Philox): ten
 * rounds of a multiply-and-xor network keyed by two 32-bit words map a 128-bit counter to 128
 * random bits. It passes TestU01's BigCrush for any key and counter, so structured inputs (seed
 * 0, 1, 2, ...; step 0, 1, 2, ...) need no hashing first. The CUDA kernels compute the same bits
 * (packages/cuda-kernels/kernels/common/philox.cuh).
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9; // the key schedule's Weyl increments
const W1 = 0xbb67ae85;

/** The high 32 bits of the 64-bit product of two uint32 (16-bit halves: every partial product is exact in a double). */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lowHigh = aLo * bHi;
  const highLow = aHi * bLo;
  const carry = (((aLo * bLo) >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff)) >>> 16;
  return (aHi * bHi + (lowHigh >>> 16) + (highLow >>> 16) + carry) >>> 0;
}

/** The four 32-bit words of Philox4x32-10 for counter (c0, c1, c2, c3) and key (k0, k1), all uint32. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  let [x0, x1, x2, x3, key0, key1] = [c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0, k0 >>> 0, k1 >>> 0];
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    [x0, x1, x2, x3] = [(hi1 ^ x1 ^ key0) >>> 0, lo1, (hi0 ^ x3 ^ key1) >>> 0, lo0];
  }
  return [x0, x1, x2, x3];
}
